// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "log.h"

/* A file holds the operator's ("static") endpoints; hooks' entries stay. */
static int load_static(struct shunt_ctx *c, struct ep_table *nt, bool partial)
{
	int err, owned, netns;

	err = shunt_ep_load_static(c, nt, partial, &owned, &netns);
	if (owned)
		pr_info("skipped %d endpoint(s) owned by a hook or plugin\n", owned);
	if (netns)
		pr_info("skipped %d endpoint(s) whose netns does not exist yet; load again when it does\n",
			netns);
	return err;
}

/* Every edit is read-modify-replace of the whole table (one code path, and
 * atomic for the BPF side: see shunt_ep_write). */
static int edit_table(struct cli_env *env, const struct endpoint *add,
		      const char *del, const char *file, bool partial)
{
	struct ep_table t = {}, nt;
	struct shunt_ctx c;
	int err;

	if (file && ep_table_load_file(&nt, file)) {
		pr_warn("%s\n", shunt_strerror());
		return 1;
	}
	err = cli_open_rw(env, &c);
	if (err) {
		if (file)
			ep_table_free(&nt);
		return err;
	}
	if (file) {
		err = load_static(&c, &nt, partial);
		ep_table_free(&nt);
		shunt_close(&c);
		return err ? cli_fail(err) : 0;
	} else {
		err = shunt_ep_read(&c, &t);
		if (err)
			goto out;
		if (add && ep_table_add(&t, add))
			err = shunt_set_error(EEXIST, "%s", shunt_strerror());
		else if (del && ep_table_del(&t, del))
			err = shunt_set_error(ENOENT, "%s", shunt_strerror());
		if (err)
			goto out;
	}
	err = shunt_ep_write(&c, &t);
out:
	ep_table_free(&t);
	shunt_close(&c);
	return err ? cli_fail(err) : 0;
}

int cmd_ep_add(struct cli_env *env, int argc, char **argv)
{
	struct endpoint ep;

	if (args_ep_add(argc, argv, &ep)) {
		pr_warn("%s\n", shunt_strerror());
		return 2;
	}
	return edit_table(env, &ep, NULL, NULL, false);
}

int cmd_ep_del(struct cli_env *env, int argc, char **argv)
{
	(void)argc;
	return edit_table(env, NULL, argv[0], NULL, false);
}

int cmd_ep_load(struct cli_env *env, int argc, char **argv)
{
	const char *file = NULL;
	bool partial = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--partial"))
			partial = true;
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			file = NULL, i = argc;
	}
	if (!file) {
		pr_warn("usage: shunt endpoint load FILE.json [--partial]\n");
		return 2;
	}
	return edit_table(env, NULL, NULL, file, partial);
}

int cmd_ep_list(struct cli_env *env, int argc, char **argv)
{
	char buf[INET6_ADDRSTRLEN], mac[32];
	struct shunt_ctx c;
	struct ep_table t;
	int err;

	(void)argc;
	(void)argv;
	err = cli_open(env, &c);
	if (err)
		return err;
	err = shunt_ep_read(&c, &t);
	shunt_close(&c);
	if (err)
		return cli_fail(err);
	if (env->json) {
		char *s = ep_table_to_json(&t);

		printf("%s\n", s ?: "");
		free(s);
		ep_table_free(&t);
		return 0;
	}
	printf("%-20s %-12s %-20s %-18s %-16s %s\n", "NAME", "NETWORK", "NETNS|VM", "MAC",
	       "OWNER", "ADDRESSES");
	for (int i = 0; i < t.n; i++) {
		const struct endpoint *ep = &t.eps[i];

		if (ep->has_mac)
			mac_format(ep->mac, mac, sizeof(mac));
		printf("%-20s %-12s %-20s %-18s %-16s", ep->name, ep->network,
		       ep->vm[0] ? ep->vm : ep->netns[0] ? ep->netns : "(own)", ep->has_mac ? mac : "-",
		       ep_owner(ep));
		for (int a = 0; a < ep->naddrs; a++) {
			addr_format(&ep->addrs[a], buf, sizeof(buf));
			printf(" %s", buf);
		}
		printf("\n");
	}
	ep_table_free(&t);
	return 0;
}

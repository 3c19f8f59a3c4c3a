// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt discover: the host's network namespaces as an endpoint file or a
 * table; --apply registers them as owner "discover".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "discover.h"
#include "log.h"

static void print_table(const struct discover_result *r)
{
	char buf[INET6_ADDRSTRLEN], mac[32];

	printf("%-20s %-12s %-20s %-18s %-16s %s\n", "NAME", "NETWORK", "NETNS", "MAC",
	       "INTERFACES", "ADDRESSES");
	for (int i = 0; i < r->n; i++) {
		const struct discover_row *row = &r->rows[i];
		const struct endpoint *ep = &row->ep;

		if (ep->has_mac)
			mac_format(ep->mac, mac, sizeof(mac));
		printf("%-20s %-12s %-20s %-18s %-16s", ep->name, ep->network, ep->netns,
		       ep->has_mac ? mac : "-", row->ifaces[0] ? row->ifaces : "-");
		for (int a = 0; a < ep->naddrs; a++) {
			addr_format(&ep->addrs[a], buf, sizeof(buf));
			printf(" %s", buf);
		}
		if (!ep->naddrs)
			printf(" (none)");
		else if (row->left_out)
			printf(" (left out)");
		printf("\n");
	}
}

/*
 * Registers @t as the entries of owner "discover", replacing the earlier
 * ones (so a netns that is gone leaves the table).  An endpoint that
 * another owner's live entry already claims (its name, or one of its
 * addresses in its network or its netns) is that owner's business: skipped
 * with one line, the rest applied.  Another owner's entry whose netns is
 * gone is replaced, as the hooks do.  The lock is taken only now, after
 * the host was read: hooks waiting for it give up after 2 s.
 */
static int apply(struct shunt_ctx *c, const struct ep_table *t)
{
	struct ep_table cur = {}, others = {}, mine = {};
	int err, skipped = 0;

	err = shunt_lock(c, SHUNT_LOCK_WAIT_MS);
	if (err)
		return cli_fail(err);
	err = shunt_ep_read(c, &cur);
	if (err)
		goto out;
	for (int i = 0; i < cur.n && !err; i++)
		if (!ep_owned_by(&cur.eps[i], SHUNT_OWNER_DISCOVER))
			err = ep_table_add(&others, &cur.eps[i]);
	for (int i = 0; i < t->n && !err; i++) {
		const struct endpoint *ep = &t->eps[i];
		int k = ep_table_conflict(&others, ep);

		if (k >= 0 && shunt_netns_alive(others.eps[k].netns, others.eps[k].netns_cookie)) {
			const struct endpoint *o = &others.eps[k];

			pr_warn("endpoint \"%s\" (netns %s) skipped: its name or an address is taken by endpoint \"%s\" (owner %s, network %s)\n",
				ep->name, ep->netns, o->name, ep_owner(o), o->network);
			skipped++;
			continue;
		}
		err = ep_table_add(&mine, ep);
	}
	if (!err)
		err = shunt_ep_set_owned(c, SHUNT_OWNER_DISCOVER, &mine, true);
	if (!err)
		fprintf(stderr, "discover: %d endpoint(s) registered as owner %s, %d skipped\n",
			mine.n, SHUNT_OWNER_DISCOVER, skipped);
out:
	ep_table_free(&mine);
	ep_table_free(&others);
	ep_table_free(&cur);
	return err ? cli_fail(err) : 0;
}

int cmd_discover(struct cli_env *env, int argc, char **argv)
{
	const char *network = NULL;
	struct discover_result r;
	struct shunt_ctx c;
	struct ep_table t;
	bool do_apply = false;
	int err, rc = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--apply")) {
			do_apply = true;
		} else if (!strcmp(argv[i], "--network") && i + 1 < argc) {
			network = argv[++i];
		} else if (!strncmp(argv[i], "--network=", 10)) {
			network = argv[i] + 10;
		} else {
			pr_warn("usage: shunt discover [--json] [--apply] [--network NET]\n");
			return 2;
		}
	}
	if (network && network_check(network)) {
		pr_warn("--network: %s\n", shunt_strerror());
		return 2;
	}
	/* Not loaded: say so before reading the host. */
	if (do_apply && (rc = cli_open(env, &c)))
		return rc;
	err = shunt_discover(network, &r, &t);
	if (err) {
		if (do_apply)
			shunt_close(&c);
		return cli_fail(err);
	}
	if (do_apply) {
		rc = apply(&c, &t);
		shunt_close(&c);
	}
	if (env->json) {
		char *s = ep_table_to_json(&t);

		if (!s) {
			pr_warn("out of memory\n");
			rc = 1;
		} else {
			printf("%s\n", s);
		}
		free(s);
	} else {
		print_table(&r);
	}
	ep_table_free(&t);
	shunt_discover_free(&r);
	return rc;
}

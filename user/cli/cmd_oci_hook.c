// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt oci-hook: an OCI runtime hook (runc, podman, CRI-O hooks.d).  The
 * runtime execs it with the container's state JSON on stdin.  createRuntime
 * and poststart attach the container's cgroup and register its addresses;
 * poststop removes them.  A hook never keeps a container from starting:
 * whatever goes wrong is one line in the log and exit 0, unless --strict.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli.h"
#include "container.h"
#include "log.h"

#define STATE_MAX (1 << 20)

struct hook_opts {
	const char *stage;	/* NULL: from the state's status */
	const char *log;
	bool strict;
	int lock_ms;
};

static int parse_opts(int argc, char **argv, struct hook_opts *o)
{
	o->lock_ms = 2000;
	for (int i = 0; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--strict")) {
			o->strict = true;
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			o->log = argv[++i];
		} else if (!strcmp(argv[i], "--lock-timeout") && i + 1 < argc) {
			o->lock_ms = strtol(argv[++i], &end, 10);
			if (*end || o->lock_ms < 0 || o->lock_ms > 600000) {
				pr_warn("oci-hook: --lock-timeout takes milliseconds (0-600000)\n");
				return -1;
			}
		} else if (argv[i][0] != '-' && !o->stage) {
			o->stage = argv[i];
		} else {
			pr_warn("usage: shunt oci-hook [createRuntime|poststart|poststop] [--log FILE] [--strict] [--lock-timeout MS]\n");
			return -1;
		}
	}
	if (o->stage && strcmp(o->stage, "createRuntime") && strcmp(o->stage, "prestart") &&
	    strcmp(o->stage, "poststart") && strcmp(o->stage, "poststop")) {
		pr_warn("oci-hook: unknown stage \"%s\" (createRuntime, prestart, poststart, poststop)\n",
			o->stage);
		return -1;
	}
	return 0;
}

static char *read_stdin(void)
{
	size_t n = 0, r;
	char *buf = malloc(STATE_MAX + 1);

	if (!buf)
		return NULL;
	while (n < STATE_MAX && (r = fread(buf + n, 1, STATE_MAX - n, stdin)) > 0)
		n += r;
	buf[n] = 0;
	return buf;
}

/* The stage a runtime ran us at, when the hook's args do not say. */
static const char *stage_of(const struct oci_state *st)
{
	if (!strcmp(st->status, "creating"))
		return "createRuntime";
	if (!strcmp(st->status, "stopped"))
		return "poststop";
	return "poststart";	/* created (runc 1.1 runs poststart in create), running */
}

static void log_up(const struct oci_state *st, const char *stage,
		   const struct shunt_container_report *r)
{
	char addrs[SHUNT_MAX_ADDRS * 48] = "", buf[INET6_ADDRSTRLEN];
	const char *cg = r->covered ? " (a parent cgroup is attached)" : "";

	for (int i = 0; i < r->naddrs; i++) {
		addr_format(&r->addrs[i], buf, sizeof(buf));
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
			 i ? " " : "", buf);
	}
	if (r->by_cni)
		pr_info("%s %s: registered by CNI; attached %s%s\n", stage, st->id, r->cgroup, cg);
	else
		pr_info("%s %s: endpoint %s (%s) in network %s, netns %s; attached %s%s\n",
			stage, st->id, r->name, addrs, r->network, r->netns, r->cgroup, cg);
}

int cmd_oci_hook(struct cli_env *env, int argc, char **argv)
{
	struct shunt_container_report r;
	struct hook_opts o = {};
	struct oci_state st;
	const char *stage;
	struct shunt_ctx c;
	FILE *logf = NULL;
	char *text;
	int err;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.log) {
		logf = fopen(o.log, "ae");
		if (!logf) {
			pr_warn("oci-hook: --log %s: %s\n", o.log, strerror(errno));
			return 2;
		}
		shunt_log_to(logf, "shunt oci-hook: ");
	}
	text = read_stdin();
	if (!text) {
		pr_warn("oci-hook: out of memory\n");
		return 1;
	}
	err = oci_state_parse(text, &st);
	free(text);
	if (err) {
		/* Not a runtime's state: a misconfigured hook, said loudly. */
		pr_warn("%s\n", shunt_strerror());
		if (logf)
			fprintf(stderr, "shunt oci-hook: %s\n", shunt_strerror());
		return 2;
	}
	stage = o.stage ?: stage_of(&st);
	if (strcmp(stage, "poststop") && !st.enable) {
		pr_info("%s %s: %s=false: stays on TCP\n", stage, st.id, SHUNT_ANN_ENABLE);
		return 0;
	}
	err = shunt_open(&c, env->pin_dir);
	if (!err) {
		err = shunt_lock(&c, o.lock_ms);
		if (err)
			shunt_close(&c);
	}
	if (err)
		goto soft;
	if (!strcmp(stage, "poststop")) {
		err = shunt_container_down(&c, st.id, &r);
		if (!err)
			pr_info("poststop %s: removed %d endpoint(s), collected %d dangling link(s)\n",
				st.id, r.removed, r.links_collected);
	} else {
		err = shunt_container_up(&c, &st, &r);
		if (!err)
			log_up(&st, stage, &r);
	}
	shunt_close(&c);
	if (!err)
		return 0;
soft:
	pr_warn("%s %s: %s%s\n", stage, st.id, shunt_strerror(),
		o.strict ? "" : " (container goes on, over TCP)");
	/* Failing the container: the runtime shows its hook's stderr. */
	if (o.strict && logf)
		fprintf(stderr, "shunt oci-hook: %s %s: %s\n", stage, st.id, shunt_strerror());
	return o.strict ? 1 : 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt: the loader CLI.  A declarative table of commands (as bpftool's cmd
 * table and xdp-tools' DEFINE_COMMAND); global options may stand anywhere.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "log.h"

static const struct cli_cmd cmds[] = {
	{ "load", NULL, "[--max-sockets N] [--fc-bound BYTES] | --upgrade",
	  "load and pin programs and maps (mounts bpffs if needed); --upgrade swaps\n"
	  "      in this binary's programs, keeping maps and connections", 0, 4, cmd_load },
	{ "attach", NULL, "CGROUP", "attach to a cgroup v2 directory; idempotent",
	  1, 1, cmd_attach },
	{ "detach", NULL, "CGROUP", "detach from a cgroup", 1, 1, cmd_detach },
	{ "unload", NULL, "[--wait SECS] [--force]",
	  "detach everything shunt attached, remove pins (refuses while sockets are redirected)",
	  0, 3, cmd_unload },
	{ "endpoint", "add", "NAME ADDR... [--netns NAME|PATH] [--mac MAC] [--network NET]",
	  "register an endpoint (a partition's addresses)", 2, -1, cmd_ep_add },
	{ "endpoint", "del", "NAME", "remove an endpoint", 1, 1, cmd_ep_del },
	{ "endpoint", "list", "[--json]", "show the endpoint table", 0, 0, cmd_ep_list },
	{ "endpoint", "load", "FILE.json", "replace the whole endpoint table, atomically",
	  1, 1, cmd_ep_load },
	{ "status", NULL, "[--json]", "what is loaded and attached, and the counters",
	  0, 0, cmd_status },
	{ "oci-hook", NULL, "[STAGE] [--log FILE] [--strict] [--lock-timeout MS]",
	  "OCI runtime hook (createRuntime, poststart, poststop): follow a container,\n"
	  "      state JSON on stdin; never fails a container unless --strict", 0, 6, cmd_oci_hook },
	{ "features", NULL, "[--json]",
	  "probe what this kernel offers shunt: required parts, the read counter", 0, 0, cmd_features },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: shunt [--pin-dir DIR] [-v] [-j] COMMAND ...\n\n");
	for (size_t i = 0; i < NCMDS; i++) {
		char head[64];

		snprintf(head, sizeof(head), "%s%s%s", cmds[i].name,
			 cmds[i].sub ? " " : "", cmds[i].sub ?: "");
		fprintf(f, "  shunt %s %s\n      %s\n", head, cmds[i].args, cmds[i].help);
	}
	fprintf(f,
		"\nGlobal options:\n"
		"  --pin-dir DIR   instance directory on bpffs (default %s)\n"
		"  -j, --json      JSON output for list/status\n"
		"  -v, --verbose   show libbpf and verifier messages\n"
		"\nExamples:\n"
		"  shunt load\n"
		"  shunt attach /sys/fs/cgroup/unified/web\n"
		"  shunt endpoint add web 10.0.0.2 fd00::2 --netns web --mac 02:00:00:00:00:02\n"
		"  shunt endpoint add db 10.0.0.3 --netns /proc/4242/ns/net --network prod\n"
		"  shunt endpoint load endpoints.json\n"
		"  shunt status --json\n"
		"  shunt features\n",
		SHUNT_DEFAULT_PIN_DIR);
}

int cli_fail(int err)
{
	(void)err;
	pr_warn("%s\n", shunt_strerror());
	return 1;
}

int cli_open(struct cli_env *env, struct shunt_ctx *c)
{
	int err = shunt_open(c, env->pin_dir);

	return err ? cli_fail(err) : 0;
}

int cli_open_rw(struct cli_env *env, struct shunt_ctx *c)
{
	int err = shunt_open(c, env->pin_dir);

	if (!err && (err = shunt_lock(c, SHUNT_LOCK_WAIT_MS)))
		shunt_close(c);
	return err ? cli_fail(err) : 0;
}

int main(int argc, char **argv)
{
	struct global_opts g = { .pin_dir = SHUNT_DEFAULT_PIN_DIR };
	struct cli_env env;
	const struct cli_cmd *cmd = NULL;
	int nargs, used;

	argc--;
	argv++;
	if (args_globals(&argc, argv, &g)) {
		pr_warn("%s\n", shunt_strerror());
		return 2;
	}
	if (g.help || argc == 0) {
		usage(g.help ? stdout : stderr);
		return g.help ? 0 : 2;
	}
	shunt_log_set_level(g.verbose ? LOG_DEBUG : LOG_INFO);
	shunt_log_libbpf();
	env.pin_dir = g.pin_dir;
	env.verbose = g.verbose;
	env.json = g.json;

	for (size_t i = 0; i < NCMDS && !cmd; i++) {
		if (strcmp(cmds[i].name, argv[0]))
			continue;
		if (!cmds[i].sub || (argc > 1 && !strcmp(cmds[i].sub, argv[1])))
			cmd = &cmds[i];
	}
	if (!cmd) {
		pr_warn("unknown command '%s%s%s'; see 'shunt --help'\n", argv[0],
			argc > 1 && !strcmp(argv[0], "endpoint") ? " " : "",
			argc > 1 && !strcmp(argv[0], "endpoint") ? argv[1] : "");
		return 2;
	}
	used = cmd->sub ? 2 : 1;
	nargs = argc - used;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		pr_warn("usage: shunt %s%s%s %s\n", cmd->name, cmd->sub ? " " : "",
			cmd->sub ?: "", cmd->args);
		return 2;
	}
	return cmd->run(&env, nargs, argv + used);
}

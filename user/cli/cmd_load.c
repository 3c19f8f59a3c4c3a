// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

/* --max-sockets N, --fc-bound BYTES (K/M suffixes), --upgrade */
static int parse_load_opts(int argc, char **argv, struct shunt_load_opts *o,
			   bool *upgrade)
{
	for (int i = 0; i < argc; i++) {
		unsigned long long v;
		char *end;

		if (!strcmp(argv[i], "--upgrade")) {
			*upgrade = true;
			continue;
		}
		if (i + 1 >= argc || (strcmp(argv[i], "--max-sockets") &&
				      strcmp(argv[i], "--fc-bound")))
			goto usage;
		errno = 0;
		v = strtoull(argv[i + 1], &end, 10);
		if (*end == 'K')
			v <<= 10, end++;
		else if (*end == 'M')
			v <<= 20, end++;
		if (errno || *end || argv[i + 1][0] == '-')
			goto usage;
		if (!strcmp(argv[i], "--max-sockets")) {
			if (v < 2 || v > (1u << 24)) {
				pr_warn("load: --max-sockets takes 2 to 16777216\n");
				return -EINVAL;
			}
			o->max_sockets = v;
		} else {
			if (v < 65536 || v > (1ull << 30)) {
				pr_warn("load: --fc-bound takes 64K to 1024M bytes\n");
				return -EINVAL;
			}
			o->fc_bound = v;
		}
		i++;
	}
	return 0;
usage:
	pr_warn("usage: shunt load [--max-sockets N] [--fc-bound BYTES] | --upgrade\n");
	return -EINVAL;
}

int cmd_load(struct cli_env *env, int argc, char **argv)
{
	struct shunt_load_opts opts = {};
	bool upgrade = false;
	int err;

	if (parse_load_opts(argc, argv, &opts, &upgrade))
		return 2;
	if (upgrade) {
		err = shunt_upgrade(env->pin_dir);
		if (err)
			return cli_fail(err);
		pr_info("upgraded %s: new connections use the new programs\n", env->pin_dir);
		return 0;
	}
	err = shunt_load(env->pin_dir, &opts);
	if (err == -EEXIST) {
		struct shunt_ctx c;
		bool paused = false;

		/* Idempotent; also resumes an instance a refused unload paused. */
		err = cli_open(env, &c);
		if (err)
			return err;
		err = shunt_resume(&c, &paused);
		shunt_close(&c);
		if (err)
			return cli_fail(err);
		pr_info("already loaded at %s%s\n", env->pin_dir, paused ? "; resumed" : "");
		return 0;
	}
	if (err)
		return cli_fail(err);
	pr_info("loaded, pinned under %s\n", env->pin_dir);
	return 0;
}

int cmd_unload(struct cli_env *env, int argc, char **argv)
{
	struct shunt_ctx c;
	bool force = false;
	int wait_s = 0, err;

	for (int i = 0; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			wait_s = strtol(argv[++i], &end, 10);
			if (*end || wait_s < 0 || wait_s > 3600) {
				pr_warn("unload: --wait takes seconds (0-3600)\n");
				return 2;
			}
		} else {
			pr_warn("usage: shunt unload [--wait SECS] [--force]\n");
			return 2;
		}
	}
	/* An incomplete instance (a crashed load) cannot be drained: remove it. */
	if (!force && !shunt_open(&c, env->pin_dir)) {
		err = shunt_drain(&c, wait_s);
		shunt_close(&c);
		if (err)
			return cli_fail(err);
	}
	err = shunt_unload(env->pin_dir);
	if (err == -ENOENT) {
		pr_info("not loaded at %s\n", env->pin_dir);
		return 0;
	}
	if (err)
		return cli_fail(err);
	pr_info("unloaded %s\n", env->pin_dir);
	return 0;
}

/* restore takes load's limits; no --upgrade there. */
int cli_parse_load_opts(int argc, char **argv, struct shunt_load_opts *o)
{
	bool upgrade = false;

	if (parse_load_opts(argc, argv, o, &upgrade) || upgrade)
		return -EINVAL;
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"

int cmd_load(struct cli_env *env, int argc, char **argv)
{
	int err;

	(void)argc;
	(void)argv;
	err = shunt_load(env->pin_dir);
	if (err == -EEXIST) {
		pr_info("already loaded at %s\n", env->pin_dir);
		return 0;
	}
	if (err)
		return cli_fail(err);
	pr_info("loaded, pinned under %s\n", env->pin_dir);
	return 0;
}

int cmd_unload(struct cli_env *env, int argc, char **argv)
{
	int err;

	(void)argc;
	(void)argv;
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

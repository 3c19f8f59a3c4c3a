// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt discover (issue 11): being written. */
#include "cli.h"
#include "log.h"

int cmd_discover(struct cli_env *env, int argc, char **argv)
{
	(void)env;
	(void)argc;
	(void)argv;
	pr_warn("discover: not implemented yet\n");
	return 1;
}

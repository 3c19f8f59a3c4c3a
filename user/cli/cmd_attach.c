// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cli.h"

static int attach_detach(struct cli_env *env, const char *cgroup, bool attach)
{
	struct shunt_ctx c;
	int err;

	err = cli_open_rw(env, &c);
	if (err)
		return err;
	err = attach ? shunt_attach(&c, cgroup, NULL) : shunt_detach(&c, cgroup);
	shunt_close(&c);
	return err ? cli_fail(err) : 0;
}

int cmd_attach(struct cli_env *env, int argc, char **argv)
{
	(void)argc;
	return attach_detach(env, argv[0], true);
}

int cmd_detach(struct cli_env *env, int argc, char **argv)
{
	(void)argc;
	return attach_detach(env, argv[0], false);
}

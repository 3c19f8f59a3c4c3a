/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SHUNT_CLI_H
#define SHUNT_CLI_H

#include "loader.h"

/* Options every command sees (bpftool-style globals). */
struct cli_env {
	const char *pin_dir;
	int verbose;
	int json;
};

/*
 * A command: one row of the table in main.c (xdp-tools' DEFINE_COMMAND).
 * run() returns the process exit code and prints its own one-line error.
 */
struct cli_cmd {
	const char *name;
	const char *sub;		/* NULL: no sub-command */
	const char *args;		/* usage after the name */
	const char *help;
	int min_args, max_args;		/* positional args; -1: unbounded */
	int (*run)(struct cli_env *env, int argc, char **argv);
};

int cmd_load(struct cli_env *env, int argc, char **argv);
int cmd_unload(struct cli_env *env, int argc, char **argv);
int cmd_attach(struct cli_env *env, int argc, char **argv);
int cmd_detach(struct cli_env *env, int argc, char **argv);
int cmd_ep_add(struct cli_env *env, int argc, char **argv);
int cmd_ep_del(struct cli_env *env, int argc, char **argv);
int cmd_ep_list(struct cli_env *env, int argc, char **argv);
int cmd_ep_load(struct cli_env *env, int argc, char **argv);
int cmd_status(struct cli_env *env, int argc, char **argv);
int cmd_features(struct cli_env *env, int argc, char **argv);
int cmd_oci_hook(struct cli_env *env, int argc, char **argv);

/* Opens the instance or prints why not; returns 0 or an exit code.
 * cli_open_rw also takes the writers' lock (readers never block them). */
int cli_open(struct cli_env *env, struct shunt_ctx *c);
int cli_open_rw(struct cli_env *env, struct shunt_ctx *c);
int cli_fail(int err);	/* prints shunt_strerror(), returns exit code 1 */

#endif

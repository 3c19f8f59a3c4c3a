/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SHUNT_CLI_H
#define SHUNT_CLI_H

#include <stdio.h>

#include "loader.h"

/* Options every command sees (bpftool-style globals). */
struct cli_env {
	const char *pin_dir;
	int verbose;
	int json;
};

/* An option of a command, for its help, the man page and completion. */
struct cli_opt {
	const char *name;		/* "--max-sockets" */
	const char *arg;		/* "N", or NULL for a flag */
	const char *help;
};

/*
 * A command: one row of the table in main.c (xdp-tools' DEFINE_COMMAND).
 * The row is the one source of `shunt --help`, `shunt help VERB`, the man
 * page (`shunt help --man`) and bash completion; tests/integ/t_docs.sh
 * checks README's manual against it.  run() returns the process exit code
 * and prints its own one-line error.
 */
struct cli_cmd {
	const char *name;
	const char *sub;		/* NULL: no sub-command */
	const char *args;		/* usage after the name */
	const char *help;		/* one line */
	const char *desc;		/* a paragraph: help VERB and the man page */
	const struct cli_opt *opts;	/* ends with { NULL } */
	const char *examples;		/* command lines, one per line */
	int min_args, max_args;		/* positional args; -1: unbounded */
	int (*run)(struct cli_env *env, int argc, char **argv);
};

extern const struct cli_cmd cli_cmds[];
extern const size_t cli_ncmds;
extern const struct cli_opt cli_globals[];

/* help.c: renderings of the table. */
void help_usage(FILE *f);
int help_verb(FILE *f, const struct cli_cmd *cmd);
void help_man(FILE *f);
int cmd_help(struct cli_env *env, int argc, char **argv);
const char *shunt_version(void);

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
int cmd_restore(struct cli_env *env, int argc, char **argv);
int cmd_discover(struct cli_env *env, int argc, char **argv);
int cmd_explain(struct cli_env *env, int argc, char **argv);
int cmd_metrics(struct cli_env *env, int argc, char **argv);
int cmd_conns(struct cli_env *env, int argc, char **argv);
int cmd_events(struct cli_env *env, int argc, char **argv);
int cmd_bridge(struct cli_env *env, int argc, char **argv);
int cli_parse_load_opts(int argc, char **argv, struct shunt_load_opts *o);

/* Opens the instance or prints why not; returns 0 or an exit code.
 * cli_open_rw also takes the writers' lock (readers never block them). */
int cli_open(struct cli_env *env, struct shunt_ctx *c);
int cli_open_rw(struct cli_env *env, struct shunt_ctx *c);
int cli_fail(int err);	/* prints shunt_strerror(), returns exit code 1 */

#endif

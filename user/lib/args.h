/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Pure argument parsing for the CLI, kept here so cmocka tests can call it. */
#ifndef SHUNT_ARGS_H
#define SHUNT_ARGS_H

#include "endpoint.h"

struct global_opts {
	const char *pin_dir;
	int verbose;
	int json;
	int help;
	int version;
};

/*
 * Takes the global options (--pin-dir DIR, -v/--verbose, -j/--json,
 * -h/--help, -V/--version) out of argv wherever they stand, compacting the rest.  Returns
 * 0 or -EINVAL with shunt_strerror() set.
 */
int args_globals(int *argc, char **argv, struct global_opts *g);

/* `endpoint add NAME ADDR... [--netns NS] [--mac MAC] [--network NET]` */
int args_ep_add(int argc, char **argv, struct endpoint *ep);

#endif

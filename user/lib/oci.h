/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * OCI runtime hooks: the container state a runtime writes on a hook's stdin
 * (runtime-spec, "state"), parsed; pure, so it is unit-tested and fuzzed.
 */
#ifndef SHUNT_OCI_H
#define SHUNT_OCI_H

#include <stdbool.h>

#include "shunt/shunt.h"

#define SHUNT_OCI_ID_MAX	(SHUNT_NAME_MAX - 16)	/* room for "-ifname" */

/* The annotations shunt reads. */
#define SHUNT_ANN_ENABLE	"io.shunt.enable"	/* "false": stay on TCP */
#define SHUNT_ANN_NAME		"io.shunt.name"		/* endpoint name; default: the id */
#define SHUNT_ANN_NETWORK	"io.shunt.network"	/* default "default" */

struct oci_state {
	char id[SHUNT_OCI_ID_MAX + 1];
	char status[16];		/* creating, created, running, stopped */
	int pid;			/* 0: none (poststop) */
	bool enable;			/* io.shunt.enable is not "false" */
	char name[SHUNT_NAME_MAX + 1];	/* "" unless annotated */
	char network[SHUNT_NET_MAX];	/* "" unless annotated */
};

/* Parses @json; 0 or -EINVAL with one line in shunt_strerror(). */
int oci_state_parse(const char *json, struct oci_state *st);

#endif

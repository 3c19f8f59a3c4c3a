/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A container's life as shunt follows it (the OCI hook's library side):
 * up = attach its cgroup and register its netns' addresses under owner
 * "oci:<id>"; down = remove exactly that and detach.
 */
#ifndef SHUNT_CONTAINER_H
#define SHUNT_CONTAINER_H

#include "loader.h"
#include "oci.h"

struct shunt_container_report {
	char cgroup[512];	/* the cgroup attached ("" if none) */
	char netns[SHUNT_NETNS_MAX];
	char name[SHUNT_NAME_MAX + 1];
	char network[SHUNT_NET_MAX];
	int naddrs;		/* addresses registered now (0: none) */
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	bool covered;		/* an ancestor cgroup was already attached */
	bool by_cni;		/* CNI registered it: attached only */
	int removed;		/* down: entries removed */
	int links_collected;	/* down: dangling links unpinned */
};

/* Caller holds the instance lock.  -EADDRNOTAVAIL: attached, no address yet. */
int shunt_container_up(struct shunt_ctx *c, const struct oci_state *st,
		       struct shunt_container_report *r);
int shunt_container_down(struct shunt_ctx *c, const char *id,
			 struct shunt_container_report *r);
/* Is there an entry owned by "cni:<any>/<id>/<any>"? */
bool shunt_table_has_cni(const struct ep_table *t, const char *id);

#endif

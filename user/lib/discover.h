/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `shunt discover`: this host's network namespaces as endpoints.  Every
 * named netns (/run/netns, /var/run/netns) and every process's netns, one
 * per netns cookie, with the addresses and MACs of its interfaces and the
 * network it hangs off (the host-side bridge or veth peer), read over
 * rtnetlink.  The root netns is the host, not a partition: never listed.
 */
#ifndef SHUNT_DISCOVER_H
#define SHUNT_DISCOVER_H

#include <stdbool.h>

#include "endpoint.h"

#define SHUNT_DISCOVER_IFACES_MAX 128

/* One partition as found: an endpoint candidate, with or without addresses. */
struct discover_row {
	struct endpoint ep;		/* naddrs may be 0; netns_cookie set */
	char ifaces[SHUNT_DISCOVER_IFACES_MAX];	/* its interfaces, "eth0,eth1" */
	int dropped;			/* addresses beyond SHUNT_MAX_ADDRS */
	bool left_out;			/* not in the endpoint file (no address, conflict) */
};

struct discover_result {
	struct discover_row *rows;	/* sorted by name */
	int n;
	int denied;			/* netns that could not be entered (permissions) */
};

/*
 * Reads the host: fills @r with every partition found and @t with the
 * endpoint file they make (rows with an address that do not conflict with
 * an earlier row; each one left out is said on stderr).  @network, if not
 * NULL, puts every endpoint in that network instead of the one its links
 * say.  Namespaces and processes that vanish meanwhile are skipped.
 */
int shunt_discover(const char *network, struct discover_result *r, struct ep_table *t);
void shunt_discover_free(struct discover_result *r);

#endif

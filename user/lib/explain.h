/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `shunt explain`: would a connection from SRC to DST be redirected, and if
 * not, why?  Answered from the live maps of an instance the way the BPF
 * classifier (bpf/shunt.bpf.c, classify) answers it for each end's socket at
 * its established callback, plus what user space can tell about the one
 * thing the maps do not hold: whether sock_ops runs at all for the sockets
 * of each end (their cgroups attached).
 */
#ifndef SHUNT_EXPLAIN_H
#define SHUNT_EXPLAIN_H

#include <stdbool.h>
#include <linux/types.h>

#include "loader.h"

struct shunt_explain_query {
	struct shunt_addr src, dst;
	int src_port, dst_port;		/* -1: not given; informational only */
	const char *netns;		/* the connecting socket's netns; NULL: from the table */
	const char *network;		/* NULL: any */
};

/* Whether sock_ops runs for sockets made in a netns, by its processes' cgroups. */
enum shunt_cg_state {
	SHUNT_CG_UNKNOWN,		/* no process in that netns (or the netns not found) */
	SHUNT_CG_NOT_ATTACHED,		/* no process's cgroup nor an ancestor attached */
	SHUNT_CG_ATTACHED,		/* every process's cgroup, or an ancestor, attached */
	SHUNT_CG_PARTLY,		/* some are, some are not: depends on the process */
};

#define SHUNT_EXPLAIN_CGROUPS 8

struct shunt_explain_cg {
	char path[512];			/* a cgroup of a process in the netns */
	char via[512];			/* it or its attached ancestor; "": not attached */
};

struct shunt_explain_side {
	struct shunt_addr addr;
	int port;			/* -1: not given */
	bool netns_known;		/* netns/netns_cookie valid */
	char netns[SHUNT_NETNS_MAX];	/* as given or registered; "" = registrant's own */
	__u64 netns_cookie;
	bool has_ep;			/* the lookup for this end found an endpoint */
	char endpoint[SHUNT_NAME_MAX + 1];
	char network[SHUNT_NET_MAX];
	__u32 ep_id, net_id;
	enum shunt_cg_state cg_state;
	int nprocs;			/* processes found in the netns */
	int ncgroups;			/* distinct cgroups (the first SHUNT_EXPLAIN_CGROUPS listed) */
	struct shunt_explain_cg cg[SHUNT_EXPLAIN_CGROUPS];
};

/* The verdict when nothing is counted (the connecting side is not attached). */
#define SHUNT_EXPLAIN_UNCOUNTED	(-1)

struct shunt_explain {
	bool paused;
	int rx_hook;			/* enum shunt_rx_hook; -1: unknown */
	int sockets, max_sockets;	/* the sockhash now, and its size */
	struct shunt_explain_side src, dst;
	/* classify() of the connecting socket (local SRC, remote DST in its
	 * netns): a SHUNT_ST_TCP_* or SHUNT_ST_MAX (may be redirected). */
	int classify;
	int table;			/* the lookups' answer alone (without read counter, pause) */
	/* classify() of the passive socket (local DST in the peer's netns,
	 * remote SRC); -1: not known (no peer endpoint to find its netns). */
	int reverse;
	int reverse_table;
	bool reverse_mirrors;		/* its keys mirror the connecting socket's */
	/* What the connection gets: SHUNT_ST_CONN_REDIR, the SHUNT_ST_TCP_*
	 * counter the connecting side counts, or SHUNT_EXPLAIN_UNCOUNTED. */
	int verdict;
	/* What the passive side counts: a SHUNT_ST_TCP_* at its established
	 * or first send, SHUNT_ST_MAX (nothing: redirected), -1 not known
	 * or not attached. */
	int passive;
	char detail[640];		/* one line: why, in the words of the maps */
	char passive_detail[640];
	char note[640];			/* "": none */
};

/*
 * Fills @e for @q from the instance @c (opened with shunt_open; no lock: it
 * reads the table as status does, again if a writer replaced it meanwhile).
 * Returns 0 when it could answer, whatever the verdict; -errno with one line
 * in shunt_strerror() otherwise (an unknown netns, an SRC that belongs to
 * endpoints in several netns without --netns or --network to choose).
 */
int shunt_explain(struct shunt_ctx *c, const struct shunt_explain_query *q,
		  struct shunt_explain *e);

/* "redirect" for SHUNT_ST_MAX / SHUNT_ST_CONN_REDIR, else the counter's
 * reason ("no_peer_endpoint"), "not_counted" for SHUNT_EXPLAIN_UNCOUNTED. */
const char *shunt_explain_reason(int st);
const char *shunt_explain_cg_name(enum shunt_cg_state s);

#endif

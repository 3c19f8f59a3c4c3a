/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * shunt: map keys, values and constants shared by the BPF programs and user
 * space.  This header is the one place that defines their layout; it is
 * included by bpf/shunt.bpf.c (after vmlinux.h) and by user/ (after
 * <linux/types.h>).
 *
 * Every struct here is explicitly padded so that no compiler-inserted hole
 * can leave garbage in a hash key: keys are zeroed, then filled, by the
 * static inline builders below, on both sides.
 */
#ifndef SHUNT_SHUNT_H
#define SHUNT_SHUNT_H

/* htonl of a constant, the same in BPF and user space. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __shunt_htonl(x)	__builtin_bswap32(x)
#else
#define __shunt_htonl(x)	(x)
#endif

#define SHUNT_NAME_MAX		96	/* endpoint name (container id 64 hex + "-" + ifname) */
#define SHUNT_OWNER_MAX		128	/* "static", "oci:<id>", "cni:<network>/<id>/<ifname>" */
#define SHUNT_NET_MAX		32	/* network name */
#define SHUNT_NETNS_MAX		128	/* netns name or path as the user gave it */
#define SHUNT_MAX_ADDRS		8	/* addresses per endpoint */
#define SHUNT_VERSION_MAX	48	/* build_version in .rodata */

#define SHUNT_MAX_ENDPOINTS	4096
#define SHUNT_MAX_ADDR_ENTRIES	(2 * SHUNT_MAX_ENDPOINTS * SHUNT_MAX_ADDRS)
#define SHUNT_MAX_SOCKS		65536
#define SHUNT_MAX_CONNS		65536

#define SHUNT_AF_INET		4
#define SHUNT_AF_INET6		6

/* Where an endpoint lives. */
enum shunt_loc {
	SHUNT_LOC_NETNS = 1,	/* a network namespace of this host */
	SHUNT_LOC_VSOCK = 2,	/* a VM behind the vsock bridge (later) */
};

/* An address, normalized: IPv4 (and IPv4-mapped IPv6) in a[0], network order. */
struct shunt_addr {
	__u8 family;		/* SHUNT_AF_INET or SHUNT_AF_INET6 */
	__u8 pad[3];
	__u32 a[4];
};

/*
 * shunt_ep_local: "which endpoint is this socket?"  Keyed by the socket's own
 * netns cookie and local address, so an address spoofed from another
 * partition never matches.  @gen selects the endpoint table generation (see
 * struct shunt_cfg): a table is replaced by writing the other generation and
 * flipping cfg.gen once.
 */
struct shunt_ep_local_key {
	__u64 netns;
	__u32 gen;
	struct shunt_addr addr;
};

struct shunt_ep_local_val {
	__u32 net_id;
	__u32 ep_id;
};

/* shunt_ep_peer: "who owns this remote address in my network, and where?" */
struct shunt_ep_peer_key {
	__u32 net_id;
	__u32 gen;
	struct shunt_addr addr;
};

struct shunt_ep_peer_val {
	__u64 netns;		/* netns cookie of the owner (SHUNT_LOC_NETNS) */
	__u32 ep_id;
	__u32 loc;		/* enum shunt_loc */
};

/*
 * shunt_sockhash key: names one socket.  A socket inserts itself under the key
 * built from its own view (netns, local, remote); its peer builds the same key
 * from the mirrored view.  The netns cookie and network id keep two partitions
 * with identical address plans apart (a bare 4-tuple would collide).
 */
struct shunt_sock_key {
	__u64 netns;
	__u32 net_id;
	__u16 lport;		/* host order */
	__u16 rport;		/* host order */
	struct shunt_addr laddr;
	struct shunt_addr raddr;
};

/*
 * Per-connection state shared by both ends, in shunt_conns, keyed by the
 * active (connecting) socket's key.  A word of bits that both ends change
 * only with compare-and-swap:
 *
 *   RX_A / RX_P   the passive / active end may redirect into the active /
 *                 passive socket.  Only one socket ever redirects into a given
 *                 socket (its peer), so each RX bit has a single writer, which
 *                 sets it *before* its first redirect and clears it again only
 *                 if that redirect failed (nothing was queued).
 *   GONE_A/GONE_P that socket has left the sockhash (or is about to): its
 *                 peer must never redirect into it.  Set by the socket itself
 *                 only while its RX bit is clear, in the same CAS, which is
 *                 what makes leaving safe: no byte can be queued in a psock
 *                 that is being torn down.
 *   TCP           the first sender found its peer absent (or bytes already
 *                 on TCP): the whole connection stays on TCP, and both
 *                 sockets leave the sockhash at their next received segment.
 */
#define SHUNT_CONN_TCP		(1u << 0)
#define SHUNT_CONN_RX_A		(1u << 1)
#define SHUNT_CONN_RX_P		(1u << 2)
#define SHUNT_CONN_GONE_A	(1u << 3)
#define SHUNT_CONN_GONE_P	(1u << 4)

struct shunt_conn {
	__u32 state;		/* SHUNT_CONN_* bits */
#if SHUNT_REBUILD == 2
	__u32 rebuild_flags;	/* test build: same size, new meaning (t_upgrade) */
#else
	__u32 pad;
#endif
	/*
	 * Flow control, per end (0: active, 1: passive).  sent[i]: bytes end i
	 * passed through its verdict since its direction was redirected (by
	 * either path).  read[i]: bytes end i's application has read.  So
	 * sent[i] - read[!i] is what end i has queued towards its peer and not
	 * yet been read, on either path.
	 */
	__u64 sent[2];
	__u64 read[2];
	/*
	 * Exact per-path counts for leaving the sockhash safely: redir[i] is
	 * what end i redirected into its peer's psock (counted before the
	 * GONE check, withdrawn if the redirect did not happen); psock_read[i]
	 * what end i's application read from its psock (reads that did not
	 * advance copied_seq).  sent[] cannot serve: the kernel sends some TCP
	 * bytes without running the verdict (psock->eval reuse after EAGAIN).
	 */
	__u64 redir[2];
	__u64 psock_read[2];
	/* An end's SO_RCVBUF if its application set one (0: not set): the
	 * flow-control bound towards it then follows it (see fc_redirect). */
	__u32 rcvbuf[2];
	/*
	 * rx_seq[i]: end i's tcp copied_seq after its last read: the TCP bytes
	 * its application has consumed.  A detoured direction resumes only
	 * when this equals the sender's write_seq (see fc_redirect).
	 */
	__u32 rx_seq[2];
	/* For `shunt conns` (a walk of this map): when the first end got
	 * here, each end's endpoint id and its send path (enum shunt_tx). */
	__u64 start_ns;			/* bpf_ktime_get_ns() */
	__u32 ep_id[2];
	__u8 tx[2];
	__u8 pad2[6];
};

/* Queued-but-unread bytes above which a redirected direction detours over
 * TCP (whose window then throttles the sender) until the reader caught up. */
#define SHUNT_FC_BOUND_DEFAULT	(4u << 20)

/*
 * Per-socket state (BPF_MAP_TYPE_SK_STORAGE).  The shunt_conns key of the
 * connection is the active end's key: self if active, else peer.
 */
enum shunt_tx {
	SHUNT_TX_UNDECIDED = 0,
	SHUNT_TX_REDIR = 1,
	SHUNT_TX_TCP = 2,	/* for life */
	SHUNT_TX_DETOUR = 3,	/* redirected, but over TCP until the reader catches up */
};

struct shunt_sk {
	struct shunt_sock_key self;	/* this socket's sockhash key */
	struct shunt_sock_key peer;	/* the peer socket's key */
	__u8 tx;			/* enum shunt_tx: this socket's send direction */
	__u8 active;			/* 1: this end connect()ed */
	__u8 in_hash;			/* 1: inserted into shunt_sockhash */
	__u8 pad[1];
	__u32 ep_id;			/* this end's endpoint (stable id) */
	__u32 peer_ep_id;		/* the peer's */
	__u32 pad2;
};

/*
 * The program that counts the applications' reads (bpf/shunt.bpf.c,
 * on_read), chosen by the loader's feature probe and set in .rodata.
 */
enum shunt_rx_hook {
	SHUNT_RX_NONE = 0,	/* none loads here: connections stay on TCP */
	SHUNT_RX_TP = 1,	/* tp_btf/sock_recv_length (6.3+) */
	SHUNT_RX_FEXIT = 2,	/* fexit/inet_recvmsg + fexit/inet6_recvmsg */
};

/*
 * Global configuration, shunt_cfg[0], written by user space under the
 * instance lock.  BPF reads only gen and flags.  @seq counts table
 * replacements (it changes with gen, in the same update), so a reader that
 * walks the table without the lock retries when it changed under it.
 * @ep_id_hw / @net_id_hw are the highest ids ever handed out: ids are never
 * reused, so per-endpoint state can never move to another endpoint.
 */
struct shunt_cfg {
	__u32 gen;		/* active endpoint-table generation: 0 or 1 */
	__u32 flags;		/* SHUNT_CFG_* */
	__u32 seq;
	__u32 ep_id_hw;
	__u32 net_id_hw;
	__u32 pad;
};

/* All-zero is the working default, so a bpftool-only setup needs no cfg write. */
#define SHUNT_CFG_PAUSED	(1u << 0)	/* new connections stay on TCP */

/*
 * shunt_endpoints: the user-facing endpoint table (names, netns as given,
 * MAC), kept in a pinned map beside the lookup maps so that every shunt
 * call, and container hooks, see one table.  BPF never reads it.
 */
struct shunt_ep_meta_key {
	__u32 gen;
	char name[SHUNT_NAME_MAX + 4];		/* NUL-padded */
};

struct shunt_ep_meta {
	char network[SHUNT_NET_MAX];
	char netns[SHUNT_NETNS_MAX];		/* as given; "" = the caller's */
	__u64 netns_cookie;
	__u32 net_id;
	__u32 ep_id;
	__u32 loc;				/* enum shunt_loc */
	__u8 mac[6];
	__u8 has_mac;
	__u8 naddrs;
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	/* Who registered it: "static" (CLI, files) or a hook or plugin, which
	 * adds and removes only its own entries. */
	char owner[SHUNT_OWNER_MAX];
	__u64 cgroup_id;			/* cgroup its owner attached; 0: none */
	char vm[SHUNT_NET_MAX];			/* SHUNT_LOC_VSOCK: the VM's name */
};

/*
 * Counters, one per decision, in a per-CPU array that `shunt status` sums.
 * Keep shunt_stat_names[] in user/lib in the same order.
 */
enum shunt_stat {
	SHUNT_ST_ESTABLISHED,		/* established callbacks seen */
	SHUNT_ST_SOCK_ADDED,		/* sockets put in the sockhash */
	SHUNT_ST_SOCK_REMOVED,		/* TCP-decided sockets taken out again */
	SHUNT_ST_CONN_REDIR,		/* connections whose first send redirected */
	SHUNT_ST_TX_REDIR,		/* send directions on the redirect path */
	SHUNT_ST_TX_TCP,		/* send directions left on TCP (any reason) */
	SHUNT_ST_MSG_REDIR,		/* messages redirected */
	SHUNT_ST_BYTES_REDIR,		/* bytes redirected */
	SHUNT_ST_FC_DETOUR,		/* flow control: reader behind, detour over TCP */
	SHUNT_ST_FC_RESUME,		/* flow control: reader caught up, redirect again */
	SHUNT_ST_BYTES_DETOUR,		/* bytes sent over TCP while detouring */
	/* why a connection (or one direction) stays on TCP */
	SHUNT_ST_TCP_PAUSED,		/* shunt paused (draining for unload) */
	SHUNT_ST_TCP_FAMILY,		/* not IPv4/IPv6 */
	SHUNT_ST_TCP_NO_LOCAL,		/* local address not an endpoint of this netns */
	SHUNT_ST_TCP_NO_PEER,		/* remote address not an endpoint of this network */
	SHUNT_ST_TCP_PEER_REMOTE,	/* peer endpoint not in a local netns */
	SHUNT_ST_TCP_SAME_NETNS,	/* both ends in one partition */
	SHUNT_ST_TCP_MAP_FULL,		/* sockhash or conn table full */
	SHUNT_ST_TCP_PEER_ABSENT,	/* peer socket not in the sockhash at first send */
	SHUNT_ST_TCP_SENT_BYTES,	/* bytes already went out by TCP (e.g. TFO) */
	SHUNT_ST_TCP_CONN_TCP,		/* first send: connection already pinned to TCP */
	SHUNT_ST_TCP_LATE,		/* established after the connection was pinned to TCP */
	SHUNT_ST_TCP_PEER_GONE,		/* peer closed: later sends go to TCP */
	SHUNT_ST_TCP_SEMANTICS,		/* SO_RCVLOWAT / MSG_WAITALL: receive by TCP */
	/* Appended, so an upgraded instance keeps its counters in place; the
	 * reused per-CPU array keeps its old size, so counters added by the
	 * upgrade count only after an unload and load. */
	SHUNT_ST_RX_EAGAIN,		/* blocking read got EAGAIN (kernel bug) */
	SHUNT_ST_TCP_NO_RX_HOOK,	/* this kernel has no read counter: no redirects */
	/* Counted by user space (hooks), under the instance lock. */
	SHUNT_ST_EP_STALE,		/* endpoints replaced: their netns was gone */
	SHUNT_ST_MAX,
};

/*
 * Per endpoint, by its stable id (shunt_ep_stats, a per-CPU hash that user
 * space sums; user space deletes an endpoint's entry when the endpoint
 * goes).  tcp[] is indexed by the SHUNT_ST_TCP_* reasons: the connections
 * (or directions) of this endpoint's sockets left on TCP.
 */
struct shunt_ep_stat {
	__u64 conns_redirected;		/* connections of this endpoint redirected */
	__u64 bytes_sent;		/* redirected bytes it sent */
	__u64 bytes_received;		/* redirected bytes sent to it */
	__u64 tcp[SHUNT_ST_MAX];
};

/*
 * A socket classified for TCP at its establishment, kept (LRU, by socket
 * cookie) until it closes so that `shunt conns --all` can list it with the
 * reason: such sockets never enter the sockhash or shunt_conns.
 */
struct shunt_tcp_conn {
	struct shunt_sock_key key;	/* its own view; net_id 0 if none */
	__u64 start_ns;
	__u32 reason;			/* enum shunt_stat */
	__u32 ep_id, peer_ep_id;	/* 0: not an endpoint */
	__u32 active;
};

/*
 * `shunt events`: decisions, never one per message.  Each reader owns one
 * slot: a ring buffer in shunt_ev_rings[slot] and a heartbeat in
 * shunt_ev_readers[slot] that it refreshes; BPF writes only to slots whose
 * heartbeat is younger than SHUNT_EV_HEARTBEAT_NS, so nothing is written
 * while nobody listens, and a reader killed with -9 stops costing anything
 * within that time (its slot is taken over by the next reader).
 */
enum shunt_ev_type {
	SHUNT_EV_CLASSIFIED = 1,	/* established: candidate, or TCP (reason) */
	SHUNT_EV_REDIRECTED,		/* the connection's first redirect */
	SHUNT_EV_DIR_TCP,		/* a direction stays on TCP at its first send (reason) */
	SHUNT_EV_DETOUR,		/* flow control: detour over TCP (value: bytes queued) */
	SHUNT_EV_RESUME,		/* flow control: redirect again */
	SHUNT_EV_LEAVE,			/* a socket left the sockhash (reason) */
	SHUNT_EV_EAGAIN,		/* a blocking read got EAGAIN (kernel bug) */
	SHUNT_EV_MAX,
};

struct shunt_event {
	__u64 ts_ns;			/* bpf_ktime_get_ns() */
	__u32 type;			/* enum shunt_ev_type */
	__u32 reason;			/* enum shunt_stat; SHUNT_ST_MAX: none */
	__u32 ep_id, peer_ep_id;
	__u32 active;			/* 1: the connecting end's socket */
	__u32 pad;
	__u64 value;
	struct shunt_sock_key key;	/* the socket's own view */
};

#define SHUNT_EV_READERS	8
#define SHUNT_EV_RING_SIZE	(256 * 1024)
#define SHUNT_EV_HEARTBEAT_NS	(2ull * 1000 * 1000 * 1000)

/* shunt_ev_readers[slot]: the heartbeat (CLOCK_MONOTONIC ns), written only
 * by the reader; shunt_ev_lost[slot]: events its ring had no room for,
 * written only by BPF (apart, so neither side's write undoes the other's). */

/*
 * The vsock bridge (issue 13; docs/bridge.md, README "Across VMs").  In a
 * VM's instance, cgroup connect4/6 steers a connection to an endpoint that
 * lives in another VM (SHUNT_LOC_VSOCK) to the local agent, `shunt bridge`,
 * while the agent is alive; getpeername4/6 gives the application back the
 * address it dialled.  Attached with sock_ops by `shunt attach`.
 *
 * shunt_br_dst: the addresses of other VMs' endpoints, by table generation
 * (written with shunt_ep_peer).  An address that two networks share here
 * is ambiguous from a socket that has not bound yet: ep_id 0, not steered.
 */
struct shunt_br_dst_key {
	__u32 gen;
	struct shunt_addr addr;
};

struct shunt_br_dst_val {
	__u32 net_id;
	__u32 ep_id;		/* 0: ambiguous, never steered */
};

/*
 * shunt_br_agent[0]: the agent's liveness word.  Written by the agent
 * only; BPF steers while heartbeat_ns (CLOCK_MONOTONIC) is younger than
 * SHUNT_BR_HEARTBEAT_NS, the socket is in the agent's netns and the
 * agent's listener is there (bpf_sk_lookup_tcp): a dead agent steers
 * nothing, so connections go by the VM's network as without shunt.
 */
struct shunt_br_agent {
	__u64 heartbeat_ns;
	__u64 netns;		/* the agent's netns cookie */
	__u32 pid;
	__u16 port;		/* its TCP listener on 127.0.0.1 and ::1, host order */
	__u16 pad;
};

#define SHUNT_BR_HEARTBEAT_NS	(3ull * 1000 * 1000 * 1000)

/*
 * The original destination of a steered socket: in its socket storage
 * (shunt_br_sk, for getpeername) and, from its SYN on (TCP_CONNECT_CB,
 * when its port is known and before the agent can accept it), in
 * shunt_br_handover under (netns, client address and port), which the
 * agent reads and deletes on accept.
 */
struct shunt_br_orig {
	struct shunt_addr addr;
	__u16 port;		/* host order */
	__u8 via6;		/* steered to ::1 (else 127.0.0.1, also from v4-mapped) */
	__u8 pad;
	__u32 net_id;
	__u32 ep_id;
	__u32 pad2;
};

struct shunt_br_handover_key {
	__u64 netns;
	struct shunt_addr src;	/* the steered socket's local address (v4-mapped as IPv4) */
	__u16 port;		/* and port, host order: the whole of what the agent's
				 * accept() sees of it, so no other socket can claim it */
	__u8 pad[2];
};

/*
 * Bridge counters (shunt_br_stats, per-CPU).  BPF writes the first ones,
 * user space (one agent or relay per instance) the rest: disjoint, so a
 * user-space write of CPU 0's slot never undoes a BPF increment.
 */
enum shunt_br_stat {
	SHUNT_BR_STEERED,	/* BPF: connections steered to the agent */
	SHUNT_BR_NO_AGENT,	/* BPF: to a VM endpoint, no live agent: by the network */
	SHUNT_BR_OTHER_NETNS,	/* BPF: to a VM endpoint from another netns: by the network */
	SHUNT_BR_AMBIGUOUS,	/* BPF: address in two networks: by the network */
	SHUNT_BR_USER,		/* first counter user space writes */
	/* agent */
	SHUNT_BR_OPENED = SHUNT_BR_USER,	/* bridged connections opened (out) */
	SHUNT_BR_ACCEPTED,	/* bridged connections to a local endpoint (in) */
	SHUNT_BR_BYTES_OUT,	/* bytes from local applications into the bridge */
	SHUNT_BR_BYTES_IN,	/* bytes from the bridge to local applications */
	SHUNT_BR_ABORTED,	/* connections reset: a hop failed or the peer reset */
	SHUNT_BR_REFUSED,	/* destination refused or unreachable */
	SHUNT_BR_NO_ORIG,	/* accepted with no steering record: closed */
	SHUNT_BR_RELAY_DOWN,	/* relay unreachable */
	/* agent and relay: rejected by reason */
	SHUNT_BR_REJ_HEADER,	/* malformed or unknown header */
	SHUNT_BR_REJ_UNKNOWN_VM,	/* destination VM not known */
	SHUNT_BR_REJ_NOT_EP,	/* not a registered endpoint address of that VM and network */
	SHUNT_BR_REJ_NETWORK,	/* source VM has no endpoint in that network */
	/* relay */
	SHUNT_BR_RELAYED,	/* connections relayed between VMs */
	SHUNT_BR_DST_DOWN,	/* destination VM's agent unreachable */
	SHUNT_BR_LISTS,		/* endpoint lists served */
	SHUNT_BR_MAX,
};

/* --- key builders, shared by BPF and user space (unit-tested) --- */

/*
 * Normalize an address given as the kernel holds it for @family (AF_INET: a
 * single __be32 in a[0]; AF_INET6: four __be32).  IPv4-mapped IPv6
 * (::ffff:a.b.c.d) becomes IPv4, so a dual-stack socket and a plain IPv4 one
 * agree on keys.  Returns 0, or -1 for an unsupported family.
 */
static inline int shunt_addr_set(struct shunt_addr *out, int family_is_v6,
				 const __u32 *a)
{
	out->pad[0] = out->pad[1] = out->pad[2] = 0;
	if (!family_is_v6) {
		out->family = SHUNT_AF_INET;
		out->a[0] = a[0];
		out->a[1] = out->a[2] = out->a[3] = 0;
		return 0;
	}
	/* ::ffff:0:0/96; 0xffff0000 is htonl(0x0000ffff) on little endian */
	if (a[0] == 0 && a[1] == 0 && a[2] == __shunt_htonl(0x0000ffff)) {
		out->family = SHUNT_AF_INET;
		out->a[0] = a[3];
		out->a[1] = out->a[2] = out->a[3] = 0;
		return 0;
	}
	out->family = SHUNT_AF_INET6;
	out->a[0] = a[0];
	out->a[1] = a[1];
	out->a[2] = a[2];
	out->a[3] = a[3];
	return 0;
}

static inline void shunt_sock_key_build(struct shunt_sock_key *k,
					__u64 netns, __u32 net_id,
					const struct shunt_addr *laddr, __u16 lport,
					const struct shunt_addr *raddr, __u16 rport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = netns;
	k->net_id = net_id;
	k->lport = lport;
	k->rport = rport;
	k->laddr = *laddr;
	k->raddr = *raddr;
}

/* The key the peer socket is stored under: its netns, the roles swapped. */
static inline void shunt_sock_key_peer(struct shunt_sock_key *peer,
				       const struct shunt_sock_key *self,
				       __u64 peer_netns)
{
	shunt_sock_key_build(peer, peer_netns, self->net_id,
			     &self->raddr, self->rport, &self->laddr, self->lport);
}

static inline void shunt_ep_local_key_build(struct shunt_ep_local_key *k,
					    __u64 netns, __u32 gen,
					    const struct shunt_addr *addr)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = netns;
	k->gen = gen;
	k->addr = *addr;
}

static inline void shunt_ep_peer_key_build(struct shunt_ep_peer_key *k,
					   __u32 net_id, __u32 gen,
					   const struct shunt_addr *addr)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->net_id = net_id;
	k->gen = gen;
	k->addr = *addr;
}

#endif /* SHUNT_SHUNT_H */

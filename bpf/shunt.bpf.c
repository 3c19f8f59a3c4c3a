// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt: redirect the payload of TCP connections between partitions of one
 * host straight into the peer socket, skipping IP, the virtual wire and the
 * peer's TCP input (US patent 8,635,632: ask once per connection where the
 * peer lives; bypass if on this host, else TCP).
 *
 * shunt_sockops (cgroup sock_ops), once per connection at ESTABLISHED:
 *   looks both ends up in the endpoint maps the loader fills; if both are
 *   registered endpoints of one network, living in two different local
 *   network namespaces, and the socket's own netns is the one registered for
 *   its local address, the socket goes into shunt_sockhash under a key that
 *   carries its netns cookie and network id.  Anything else is left alone.
 *
 * shunt_msg (sk_msg verdict on shunt_sockhash), on every sendmsg/sendfile:
 *   the first send of a socket decides its direction for life: redirect into
 *   the peer's ingress queue if the peer socket is in the sockhash and no
 *   byte of this direction has gone out by TCP yet, else TCP.  The receive
 *   path (tcp_bpf_recvmsg) serves the psock queue before sk_receive_queue,
 *   so a direction that mixed the two paths could deliver out of order;
 *   deciding once, before the first byte, is what keeps the stream ordered
 *   across the setup race (the active side is ESTABLISHED, and may send,
 *   before the passive side has joined the sockhash).
 *
 * References: net/core/sock_map.c (sock_hash_update, redirect helpers),
 * net/ipv4/tcp_bpf.c (tcp_bpf_sendmsg verdict, tcp_bpf_recvmsg queue order),
 * tools/testing/selftests/bpf/progs/test_sockmap_kern.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "shunt/shunt.h"

#define AF_INET		2
#define AF_INET6	10
#define MSG_PEEK	2
#define MSG_WAITALL	0x100
#define MSG_DONTWAIT	0x40
#define O_NONBLOCK	04000
#define EAGAIN		11
#define MAX_SCHEDULE_TIMEOUT	((long)(~0UL >> 1))
#define SOL_SOCKET	1
#define SO_RCVLOWAT	18
#define SO_RCVBUF	8
#define SOCK_RCVBUF_LOCK	2
#define TCP_FLAG_FIN	0x01

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load (libbpf-tools style). */
const volatile __u64 fc_bound = SHUNT_FC_BOUND_DEFAULT;
/*
 * Which program counts the applications' reads (enum shunt_rx_hook), as the
 * loader's feature probe found.  Flow control's resume and a safe leave of
 * the sockhash both need that count; without one, redirecting would keep
 * half-closed sockets in tcp_bpf_recvmsg's EAGAIN bug for good, so no
 * connection is redirected at all (classify).  The default is what a
 * bpftool-loaded object runs: the tracepoint program.
 */
const volatile __u64 rx_hook = SHUNT_RX_TP;

/* Who loaded this: the loader's version and its embedded object's hash,
 * set before load so `shunt status` can tell what a running instance runs
 * (after an upgrade it may differ from the binary on disk). */
const volatile __u64 obj_id = 0;
const volatile char build_version[SHUNT_VERSION_MAX] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_cfg);
} shunt_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHUNT_MAX_ADDR_ENTRIES);
	__type(key, struct shunt_ep_local_key);
	__type(value, struct shunt_ep_local_val);
} shunt_ep_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHUNT_MAX_ADDR_ENTRIES);
	__type(key, struct shunt_ep_peer_key);
	__type(value, struct shunt_ep_peer_val);
} shunt_ep_peer SEC(".maps");

/* User space only: the named endpoint table (see struct shunt_ep_meta). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SHUNT_MAX_ENDPOINTS);
	__type(key, struct shunt_ep_meta_key);
	__type(value, struct shunt_ep_meta);
} shunt_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SHUNT_MAX_SOCKS);
	__type(key, struct shunt_sock_key);
	__type(value, __u64);
} shunt_sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHUNT_MAX_CONNS);
	__type(key, struct shunt_sock_key);
	__type(value, struct shunt_conn);
} shunt_conns SEC(".maps");

/* All zeroes, never written: what a new shunt_conns entry starts from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_conn);
} shunt_conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct shunt_sk);
} shunt_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SHUNT_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} shunt_stats SEC(".maps");

#if SHUNT_REBUILD == 1
/*
 * Test build only (make's rebuild1, tests/integ/t_upgrade.sh): a rebuilt
 * object that adds a map and counts, per program, the messages its verdict
 * saw, so the test can tell which sockets run which build.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shunt_rebuild SEC(".maps");

static __always_inline void rebuild_mark(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&shunt_rebuild, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}
#else
static __always_inline void rebuild_mark(void)
{
}
#endif

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&shunt_stats, &idx);

	if (c)
		*c += n;
}

#include "lib/observe.h"

/* Bits of the conn word that belong to this socket and to its peer. */
static __always_inline __u32 rx_bit(int active)
{
	return active ? SHUNT_CONN_RX_A : SHUNT_CONN_RX_P;
}

static __always_inline __u32 gone_bit(int active)
{
	return active ? SHUNT_CONN_GONE_A : SHUNT_CONN_GONE_P;
}

static __always_inline struct shunt_sock_key *conn_key(struct shunt_sk *st)
{
	return st->active ? &st->self : &st->peer;
}

static __always_inline int me_idx(struct shunt_sk *st)
{
	return !st->active;	/* index of this end in conn->sent/read */
}

/* This end's send path, mirrored in the conn word for `shunt conns`. */
static __always_inline void set_tx(struct shunt_sk *st, struct shunt_conn *conn, __u8 tx)
{
	st->tx = tx;
	if (conn)
		conn->tx[me_idx(st)] = tx;
}

/*
 * Bounded CAS loop helpers.  The only writers of a conn word are the two
 * sockets of that connection, each under its own socket lock, so a couple of
 * retries always suffice; if they do not, callers take the safe answer (TCP,
 * or stay in the sockhash).
 */
#define CAS_TRIES 8

/*
 * Set @set and clear @clr unless any of @forbid is set. 0 on success; then
 * *@was (if given) holds the word as it was just before the update.
 */
static __always_inline int conn_update_was(struct shunt_conn *c, __u32 set,
					   __u32 clr, __u32 forbid, __u32 *was)
{
	for (int i = 0; i < CAS_TRIES; i++) {
		__u32 old = c->state;

		if (old & forbid)
			return -1;
		if (__sync_val_compare_and_swap(&c->state, old,
						(old | set) & ~clr) == old) {
			if (was)
				*was = old;
			return 0;
		}
	}
	return -1;
}

static __always_inline int conn_update(struct shunt_conn *c, __u32 set,
				       __u32 clr, __u32 forbid)
{
	return conn_update_was(c, set, clr, forbid, NULL);
}

static __always_inline int sockops_addr(struct bpf_sock_ops *skops, int local,
					struct shunt_addr *out)
{
	__u32 a[4];

	if (skops->family == AF_INET) {
		a[0] = local ? skops->local_ip4 : skops->remote_ip4;
		return shunt_addr_set(out, 0, a);
	}
	if (skops->family == AF_INET6) {
		if (local) {
			a[0] = skops->local_ip6[0];
			a[1] = skops->local_ip6[1];
			a[2] = skops->local_ip6[2];
			a[3] = skops->local_ip6[3];
		} else {
			a[0] = skops->remote_ip6[0];
			a[1] = skops->remote_ip6[1];
			a[2] = skops->remote_ip6[2];
			a[3] = skops->remote_ip6[3];
		}
		return shunt_addr_set(out, 1, a);
	}
	return -1;
}

#include "lib/bridge.h"

/*
 * Returns the stat index saying why the connection stays on TCP, or
 * SHUNT_ST_MAX if it may be redirected (then peer is filled).  @self gets
 * the socket's own key as far as it is known (net_id 0 before the local
 * endpoint is found), @ep and @peer_ep the endpoint ids found (0: none),
 * for the counters and events of either outcome.
 */
static __always_inline __u32 classify(struct bpf_sock_ops *skops,
				      struct shunt_sock_key *self,
				      struct shunt_sock_key *peer,
				      __u32 *ep, __u32 *peer_ep)
{
	struct shunt_ep_local_key lk;
	struct shunt_ep_peer_key pk;
	struct shunt_ep_local_val *lv;
	struct shunt_ep_peer_val *pv;
	struct shunt_addr laddr, raddr;
	struct shunt_cfg *cfg;
	__u32 zero = 0, gen;
	__u64 netns;

	*ep = *peer_ep = 0;
	__builtin_memset(self, 0, sizeof(*self));
	if (sockops_addr(skops, 1, &laddr) || sockops_addr(skops, 0, &raddr))
		return SHUNT_ST_TCP_FAMILY;
	netns = bpf_get_netns_cookie(skops);
	/* local_port is host order.  remote_port holds the __be16 port shifted
	 * into the upper half on little endian (sock_ops_convert_ctx_access),
	 * i.e. a __be32 of the port: ntohl gives it in host order. */
	shunt_sock_key_build(self, netns, 0, &laddr, (__u16)skops->local_port,
			     &raddr, (__u16)bpf_ntohl(skops->remote_port));
	if (rx_hook == SHUNT_RX_NONE)
		return SHUNT_ST_TCP_NO_RX_HOOK;
	cfg = bpf_map_lookup_elem(&shunt_cfg, &zero);
	if (!cfg || (cfg->flags & SHUNT_CFG_PAUSED))
		return SHUNT_ST_TCP_PAUSED;
	/* One read of the generation for both lookups: user space may flip it
	 * in between, and a mix of two tables must never be seen. */
	gen = *(volatile __u32 *)&cfg->gen;

	shunt_ep_local_key_build(&lk, netns, gen, &laddr);
	lv = bpf_map_lookup_elem(&shunt_ep_local, &lk);
	if (!lv)
		return SHUNT_ST_TCP_NO_LOCAL;
	self->net_id = lv->net_id;
	*ep = lv->ep_id;

	shunt_ep_peer_key_build(&pk, lv->net_id, gen, &raddr);
	pv = bpf_map_lookup_elem(&shunt_ep_peer, &pk);
	if (!pv)
		return SHUNT_ST_TCP_NO_PEER;
	*peer_ep = pv->ep_id;
	if (pv->loc != SHUNT_LOC_NETNS)
		return SHUNT_ST_TCP_PEER_REMOTE;
	if (pv->netns == netns)
		return SHUNT_ST_TCP_SAME_NETNS;

	shunt_sock_key_peer(peer, self, pv->netns);
	return SHUNT_ST_MAX;
}

/* net.ipv4.tcp_rmem[2] of the socket's netns (per netns since 4.15), or 0. */
static __always_inline __u32 rmem_max(struct tcp_sock *tp)
{
	struct net *net = BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net);
	int max = BPF_CORE_READ(net, ipv4.sysctl_tcp_rmem[2]);

	return max > 0 ? max : 0;
}

/*
 * A socket that stays on TCP from its establishment: counted (globally and
 * for its endpoint), announced, and recorded until it closes so that
 * `shunt conns --all` lists it (the STATE callback deletes the record).
 */
static __always_inline void stay_tcp(struct bpf_sock_ops *skops,
				     const struct shunt_sock_key *self, __u32 why,
				     __u32 ep, __u32 peer_ep, int active)
{
	struct shunt_tcp_conn rec;
	__u64 cookie = bpf_get_socket_cookie(skops);

	stat_add(why, 1);
	ep_tcp(ep, why);
	emit(SHUNT_EV_CLASSIFIED, self, why, ep, peer_ep, active, 0);
	rec.key = *self;
	rec.start_ns = bpf_ktime_get_ns();
	rec.reason = why;
	rec.ep_id = ep;
	rec.peer_ep_id = peer_ep;
	rec.active = active;
	if (!bpf_map_update_elem(&shunt_tcp_conns, &cookie, &rec, BPF_ANY))
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void on_established(struct bpf_sock_ops *skops,
					   int active)
{
	struct shunt_sock_key self, peer;
	struct shunt_conn *conn, *fresh;
	struct tcp_sock *tp;
	struct bpf_sock *sk;
	struct shunt_sk *st;
	__u32 why, ep, peer_ep, zero = 0;
	bool created;

	stat_add(SHUNT_ST_ESTABLISHED, 1);
	why = classify(skops, &self, &peer, &ep, &peer_ep);
	if (why != SHUNT_ST_MAX) {
		stay_tcp(skops, &self, why, ep, peer_ep, active);
		return;
	}
	/* Load ctx->sk once: the verifier tracks the NULL check on a register. */
	sk = skops->sk;
	if (!sk)
		return;

	/* The redirect path ignores SO_RCVLOWAT (tcp_bpf_recvmsg, poll). */
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp && tp->inet_conn.icsk_inet.sk.sk_rcvlowat > 1) {
		stay_tcp(skops, &self, SHUNT_ST_TCP_SEMANTICS, ep, peer_ep, active);
		return;
	}
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		stay_tcp(skops, &self, SHUNT_ST_TCP_MAP_FULL, ep, peer_ep, active);
		return;
	}
	st->self = self;
	st->peer = peer;
	st->active = active;
	st->tx = SHUNT_TX_UNDECIDED;
	st->in_hash = 0;
	st->ep_id = ep;
	st->peer_ep_id = peer_ep;

	/* The first end to get here creates the conn word; the other finds it.
	 * A zeroed word comes from the all-zero array (shunt_conn is too big
	 * for a second copy on the stack next to the keys). */
	fresh = bpf_map_lookup_elem(&shunt_conn_zero, &zero);
	created = fresh && !bpf_map_update_elem(&shunt_conns, conn_key(st), fresh, BPF_NOEXIST);
	/*
	 * The connecting end's ESTABLISHED callback runs in tcp_finish_connect,
	 * before it sends the ACK that establishes this end: if it had been
	 * classified a candidate, the word would exist.  Creating it here means
	 * that end runs no shunt (its cgroup is not attached) and will never
	 * be in the sockhash: stay on TCP rather than sit in tcp_bpf_recvmsg
	 * for nothing.  (A TCP Fast Open child is established before its peer:
	 * it stays on TCP too, the safe side.)
	 */
	if (created && !active) {
		bpf_map_delete_elem(&shunt_conns, conn_key(st));
		st->tx = SHUNT_TX_TCP;
		stay_tcp(skops, &self, SHUNT_ST_TCP_PEER_ABSENT, ep, peer_ep, active);
		return;
	}
	conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
	if (!conn) {
		stay_tcp(skops, &self, SHUNT_ST_TCP_MAP_FULL, ep, peer_ep, active);
		return;
	}
	if (!conn->start_ns)
		conn->start_ns = bpf_ktime_get_ns();
	conn->ep_id[me_idx(st)] = ep;
	conn->ep_id[!me_idx(st)] = peer_ep;
	emit(SHUNT_EV_CLASSIFIED, &self, SHUNT_ST_MAX, ep, peer_ep, active, 0);
	/* Our reads' starting point in TCP sequence space (see shunt_recv),
	 * and the most TCP would buffer for us: our application's SO_RCVBUF
	 * if it set one, else the ceiling autotuning may grow the buffer to,
	 * our netns's tcp_rmem[2] (fc_redirect bounds the queue by it). */
	if (tp) {
		struct sock *s = &tp->inet_conn.icsk_inet.sk;

		conn->rx_seq[!active] = tp->copied_seq;
		/* sk_userlocks is a 4-bit field of struct sock before 6.9 and
		 * a u8 since: a plain load does not relocate on the older
		 * layout (libbpf refuses the object), the bitfield read does
		 * on both. */
		if (BPF_CORE_READ_BITFIELD(s, sk_userlocks) & SOCK_RCVBUF_LOCK)
			conn->rcvbuf[!active] = s->sk_rcvbuf;
		else
			conn->rcvbuf[!active] = rmem_max(tp);
	}
	if (conn->state & SHUNT_CONN_TCP) {
		/* The peer already sent by TCP: stay out of the sockhash. */
		stat_add(SHUNT_ST_TCP_LATE, 1);
		ep_tcp(ep, SHUNT_ST_TCP_LATE);
		set_tx(st, conn, SHUNT_TX_TCP);
		return;
	}
	if (bpf_sock_hash_update(skops, &shunt_sockhash, &st->self, BPF_ANY)) {
		stat_add(SHUNT_ST_TCP_MAP_FULL, 1);
		ep_tcp(ep, SHUNT_ST_TCP_MAP_FULL);
		set_tx(st, conn, SHUNT_TX_TCP);
		return;
	}
	st->in_hash = 1;
	stat_add(SHUNT_ST_SOCK_ADDED, 1);
	/* STATE: cleanup at close.  PARSE_ALL_HDR: a socket of a connection
	 * that turned out TCP leaves the sockhash at its next received segment
	 * (a redirected connection sends no segments until FIN). */
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG |
					 BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG);
}

/*
 * Take a socket out of the sockhash, if that is safe.  Leaving drops the
 * psock and whatever is still queued in it, so the peer must have nothing
 * queued for us and must never queue again:
 *  - if our RX bit is clear, the peer never redirected to us: set GONE in the
 *    same CAS that checks RX (decide() sets RX before its first redirect);
 *  - else set GONE, then leave only if we have read from our psock every
 *    byte the peer redirected.  The sender counts a message in redir[]
 *    *before* it checks GONE, and redirects only if GONE was clear
 *    (redirect()); both sides use fully ordered atomics, so either the
 *    sender sees GONE and takes TCP, or we see its bytes in redir[] and
 *    stay until they were read (Dekker).
 * Once GONE is set the peer's direction is TCP for life: its newer bytes
 * arrive by TCP after the older redirected ones, which the receive path
 * serves first.  Our own sends no longer pass a verdict: TCP for life too,
 * which is order-safe for the same reason.  Returns 0 if the socket left.
 */
/*
 * Belt and braces for leave(): is the socket's psock ingress queue empty?
 * Read through sk_user_data (low bits are flags, SK_USER_DATA_PTRMASK) with
 * CO-RE; the caller holds the socket lock, as bpf_tcp_ingress does when it
 * queues, so the answer cannot change under us.  Counts can be wrong in one
 * case (a redirect the kernel repeats without the verdict after an error);
 * this check is not.
 */
static __always_inline bool psock_empty(struct bpf_sock *bsk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	struct sk_psock *psock;
	struct list_head *head;
	unsigned long ud;

	if (!tp)
		return false;
	ud = (unsigned long)BPF_CORE_READ(&tp->inet_conn.icsk_inet.sk, sk_user_data);
	psock = (struct sk_psock *)(ud & ~7UL);
	if (!psock)
		return true;
	head = &psock->ingress_msg;
	return BPF_CORE_READ(psock, ingress_msg.next) == head;
}

static __always_inline int leave(struct shunt_sk *st, struct shunt_conn *conn,
				 struct bpf_sock *sk, __u32 why)
{
	__u32 gone = gone_bit(st->active);

	if (!st->in_hash)
		return 0;
	if (conn_update(conn, gone | SHUNT_CONN_TCP, 0, rx_bit(st->active))) {
		conn_update(conn, gone, 0, 0);
		if (conn->psock_read[me_idx(st)] < conn->redir[!me_idx(st)])
			return -1;	/* bytes queued for us: retry later */
	}
	if (!psock_empty(sk))
		return -1;		/* GONE is set: nothing new comes; retry */
	if (bpf_map_delete_elem(&shunt_sockhash, &st->self) == 0)
		stat_add(SHUNT_ST_SOCK_REMOVED, 1);
	st->in_hash = 0;
	if (st->tx == SHUNT_TX_UNDECIDED) {
		/* Its sends no longer pass the verdict: decided here. */
		stat_add(SHUNT_ST_TX_TCP, 1);
		stat_add(why, 1);
		ep_tcp(st->ep_id, why);
	}
	set_tx(st, conn, SHUNT_TX_TCP);
	emit(SHUNT_EV_LEAVE, &st->self, why, st->ep_id, st->peer_ep_id, st->active, 0);
	return 0;
}

/*
 * The application asked for a receive semantic the redirect path does not
 * give (SO_RCVLOWAT, MSG_WAITALL): stop the peer redirecting into us.  Bytes
 * already queued are read first, then the rest arrives by TCP, where the
 * semantic holds; the socket leaves the sockhash at its next segment.
 */
static __always_inline void want_tcp_rx(struct shunt_sk *st)
{
	struct shunt_conn *conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));

	if (conn && !(conn->state & gone_bit(st->active)) &&
	    !conn_update(conn, gone_bit(st->active), 0, 0))
		stat_add(SHUNT_ST_TCP_SEMANTICS, 1);
}

/*
 * A segment arrived on a socket in the sockhash, or this end shut down its
 * sending side (FIN_WAIT1, inside shutdown() before the application's next
 * read).  A redirected connection exchanges no segments until FIN, except
 * during a flow-control detour.  Leave the sockhash when:
 *  - the connection is pinned to TCP (the socket's receive path would
 *    otherwise run through tcp_bpf_recvmsg for its whole life);
 *  - a FIN arrived or we sent ours: the half-closed connection finishes on
 *    TCP, away from tcp_bpf_recvmsg's wake-up bug (README, Limitations);
 *  - a leave is pending (GONE set, bytes were still queued for us).
 * Runs with the socket locked, serialized with our own sk_msg verdicts.
 */
static __always_inline void on_segment(struct bpf_sock_ops *skops, bool closing)
{
	struct bpf_sock *sk = skops->sk;
	struct shunt_conn *conn;
	struct shunt_sk *st;
	__u32 state;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	if (!st || !st->in_hash)
		goto done;
	conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
	if (!conn)
		return;
	state = conn->state;
	if (!closing && !(state & (SHUNT_CONN_TCP | gone_bit(st->active))))
		return;
	if (leave(st, conn, sk, closing ? SHUNT_ST_TCP_PEER_GONE : SHUNT_ST_TCP_CONN_TCP))
		return;
done:
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* The socket is gone (closed or reset): drop the conn word.  The peer, if it
 * still sends, finds no entry and no socket, and goes on by TCP. */
static __always_inline void on_close(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct shunt_sk *st;
	__u64 cookie;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	if (st)
		bpf_map_delete_elem(&shunt_conns, conn_key(st));
	/* A socket classified TCP may have a record (stay_tcp), st or not. */
	cookie = bpf_get_socket_cookie(skops);
	bpf_map_delete_elem(&shunt_tcp_conns, &cookie);
}

SEC("sockops")
int shunt_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		br_on_connect(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		on_established(skops, 1);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops, 0);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		on_segment(skops, skops->skb_tcp_flags & TCP_FLAG_FIN);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			on_close(skops);
		else if (skops->args[1] == BPF_TCP_FIN_WAIT1)
			on_segment(skops, true);
		break;
	}
	return 1;
}

/*
 * Redirect one message into the peer's psock.  Count it in redir[] first,
 * then check that the peer is not leaving (GONE), then queue it: pairs with
 * leave().  A message that is not queued after all is withdrawn from the
 * count.  Returns 0 if the message was redirected.
 */
static __always_inline int redirect(struct sk_msg_md *msg, struct shunt_sk *st,
				    struct shunt_conn *conn, __u32 size)
{
	int me = me_idx(st);

	__sync_fetch_and_add(&conn->redir[me], size);
	if (!(*(volatile __u32 *)&conn->state & gone_bit(!st->active)) &&
	    bpf_msg_redirect_hash(msg, &shunt_sockhash, &st->peer,
				  BPF_F_INGRESS) == SK_PASS)
		return 0;
	__sync_fetch_and_sub(&conn->redir[me], size);
	return -1;
}

/*
 * First send of a socket: choose its direction's path for life.
 *
 * Redirect only if (a) no payload byte of this direction ever entered the
 * TCP send path (bytes_sent == 0 covers TFO data in the SYN; write_seq ==
 * snd_una covers bytes queued but not yet sent), (b) the connection is not
 * already decided TCP and the peer has not left, and (c) the peer socket is
 * in the sockhash now.  Our RX bit on the peer is raised before the redirect
 * (so the peer cannot leave under us) and dropped again if it failed; the
 * message is counted in redir[] before that (see leave()).
 */
static __always_inline int decide(struct sk_msg_md *msg, struct shunt_sk *st,
				  __u32 size)
{
	__u32 peer_rx = rx_bit(!st->active), peer_gone = gone_bit(!st->active), was = 0;
	struct shunt_conn *conn;
	struct tcp_sock *tp;

	tp = bpf_skc_to_tcp_sock(msg->sk);
	if (!tp)
		return SHUNT_ST_TCP_FAMILY;
	if (tp->bytes_sent || tp->write_seq != tp->snd_una)
		return SHUNT_ST_TCP_SENT_BYTES;

	conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
	if (!conn)
		return SHUNT_ST_TCP_PEER_GONE;
	__sync_fetch_and_add(&conn->sent[me_idx(st)], size);
	if (conn_update_was(conn, peer_rx, 0, SHUNT_CONN_TCP | peer_gone, &was))
		return SHUNT_ST_TCP_CONN_TCP;

	if (!redirect(msg, st, conn, size)) {
		/*
		 * Counted once per connection, by the end whose CAS came first:
		 * it did not see the peer's claim on us (our RX bit).  Reading
		 * the word again here instead lost the count when both ends'
		 * first sends ran at once (each saw the other's claim); a
		 * debian-6.1 guest did that in one of three runs.
		 */
		if (!(was & rx_bit(st->active))) {
			stat_add(SHUNT_ST_CONN_REDIR, 1);
			ep_redirected(st->ep_id, st->peer_ep_id);
			emit(SHUNT_EV_REDIRECTED, &st->self, SHUNT_ST_MAX, st->ep_id,
			     st->peer_ep_id, st->active, 0);
		}
		return SHUNT_ST_MAX;
	}
	/* Nothing was queued at the peer: withdraw the claim, pin TCP. */
	conn_update(conn, SHUNT_CONN_TCP, peer_rx, 0);
	return SHUNT_ST_TCP_PEER_ABSENT;
}

/*
 * Flow control.  The ingress redirect charges only global TCP memory, never
 * the reader's receive buffer (net/ipv4/tcp_bpf.c, bpf_tcp_ingress), so a
 * fast sender can queue until the host runs out of TCP memory, and then gets
 * ENOMEM.  BPF cannot block a sender, but TCP can: once more than fc_bound
 * bytes are queued and unread (sent[] - read[], an estimate), the direction
 * detours over plain TCP, whose window and send buffer then block (or
 * EAGAIN) the sender as TCP always does.  Order holds because
 * tcp_bpf_recvmsg serves the psock queue (older, redirected bytes) before
 * sk_receive_queue.
 *
 * The way back must be exact: a redirected byte may not overtake a TCP byte
 * that is unread or in flight.  Byte counters cannot promise that, because
 * tcp_bpf_send_verdict() skips the program after a failed push (psock->eval
 * stays set, e.g. on EAGAIN), so some TCP bytes are never seen here.  TCP's
 * own sequence numbers see them all: resume only when the reader's
 * copied_seq, recorded by shunt_recv after each read, equals our write_seq,
 * i.e. the application has read every byte we ever queued to TCP.
 */
static __always_inline int fc_redirect(struct sk_msg_md *msg, struct shunt_sk *st,
				       struct shunt_conn *conn, __u32 size)
{
	int me = me_idx(st);
	__u64 sent = conn->sent[me], read = conn->read[!me];
	__u64 bound = fc_bound, unread;
	struct tcp_sock *tp;

	/* No more than TCP would buffer for this reader: its SO_RCVBUF
	 * (sk_rcvbuf is already the doubled value, as for TCP), or its
	 * netns's autotuning ceiling tcp_rmem[2] (see on_established). */
	if (conn->rcvbuf[!me] && conn->rcvbuf[!me] < bound)
		bound = conn->rcvbuf[!me];

	if (st->tx == SHUNT_TX_DETOUR) {
		tp = bpf_skc_to_tcp_sock(msg->sk);
		if (!tp || tp->write_seq != conn->rx_seq[!me])
			goto detour;
		/* The reader has read every byte we queued, the psock's
		 * (older) and TCP's, so nothing is unread, whatever sent[]
		 * missed of the detour (bytes the verdict never saw).  Count
		 * from here: else read[] runs ahead of sent[] and the bound
		 * below detours again at once.  read[] is loaded after
		 * rx_seq, which the reader stores after it (shunt_recv). */
		conn->sent[me] = *(volatile __u64 *)&conn->read[!me];
		set_tx(st, conn, SHUNT_TX_REDIR);
		stat_add(SHUNT_ST_FC_RESUME, 1);
		emit(SHUNT_EV_RESUME, &st->self, SHUNT_ST_MAX, st->ep_id, st->peer_ep_id,
		     st->active, 0);
	} else {
		/* An estimate: never below zero (see above). */
		unread = sent > read ? sent - read : 0;
		if (unread + size <= bound || !unread)
			goto redirect;
		set_tx(st, conn, SHUNT_TX_DETOUR);
		stat_add(SHUNT_ST_FC_DETOUR, 1);
		emit(SHUNT_EV_DETOUR, &st->self, SHUNT_ST_MAX, st->ep_id, st->peer_ep_id,
		     st->active, unread);
		goto detour;
	}
redirect:
	__sync_fetch_and_add(&conn->sent[me], size);
	if (redirect(msg, st, conn, size))
		return -1;
	stat_add(SHUNT_ST_MSG_REDIR, 1);
	stat_add(SHUNT_ST_BYTES_REDIR, size);
	ep_bytes(st->ep_id, st->peer_ep_id, size);
	return 0;
detour:
	__sync_fetch_and_add(&conn->sent[me], size);
	stat_add(SHUNT_ST_BYTES_DETOUR, size);
	return 0;
}

SEC("sk_msg")
int shunt_msg(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	/* Read ctx fields once: clang may otherwise fold ctx offsets into
	 * pointer arithmetic, which the verifier rejects. */
	__u32 size = msg->size;
	struct shunt_conn *conn;
	struct shunt_sk *st;
	__u32 why;

	if (!sk)
		return SK_PASS;
	rebuild_mark();
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	if (!st || st->tx == SHUNT_TX_TCP)
		return SK_PASS;

	if (st->tx == SHUNT_TX_UNDECIDED) {
		why = decide(msg, st, size);
		conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
		if (why != SHUNT_ST_MAX) {
			/* sk_msg may not delete from a sockmap ("cannot update
			 * sockmap in this context"): the socket leaves at the
			 * ACK of this data, in on_segment. */
			set_tx(st, conn, SHUNT_TX_TCP);
			stat_add(SHUNT_ST_TX_TCP, 1);
			stat_add(why, 1);
			ep_tcp(st->ep_id, why);
			emit(SHUNT_EV_DIR_TCP, &st->self, why, st->ep_id, st->peer_ep_id,
			     st->active, 0);
			return SK_PASS;
		}
		/* decide() redirected this first message already. */
		set_tx(st, conn, SHUNT_TX_REDIR);
		stat_add(SHUNT_ST_TX_REDIR, 1);
		stat_add(SHUNT_ST_MSG_REDIR, 1);
		stat_add(SHUNT_ST_BYTES_REDIR, size);
		ep_bytes(st->ep_id, st->peer_ep_id, size);
		return SK_PASS;
	}

	conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
	if (conn && !fc_redirect(msg, st, conn, size))
		return SK_PASS;
	/*
	 * The peer closed (its conn entry or its sockhash slot is gone):
	 * nothing reads this direction any more, so TCP, and its RST/EPIPE, is
	 * the right end.  A detour in progress ends the same way.
	 */
	set_tx(st, conn, SHUNT_TX_TCP);
	stat_add(SHUNT_ST_TCP_PEER_GONE, 1);
	ep_tcp(st->ep_id, SHUNT_ST_TCP_PEER_GONE);
	return SK_PASS;
}

/*
 * A read that returned EAGAIN on a blocking socket without a receive
 * timeout: tcp_bpf_recvmsg's wake-up bug (README, Limitations; the fix is in
 * docs/kernel/), since TCP never returns that.  The application has seen it
 * already; count it, so that operators see the bug hit, and move this
 * receiving side to TCP (what is queued is read first; the socket leaves
 * the sockhash, and with it the buggy receive path, at its next segment).
 */
static __always_inline void on_rx_eagain(struct sock *sk)
{
	struct shunt_sk *st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	struct socket *so;

	/* Also after the socket left the sockhash: a read already waiting in
	 * tcp_bpf_recvmsg then still returns from there. */
	if (!st)
		return;
	if (BPF_CORE_READ(sk, sk_rcvtimeo) != MAX_SCHEDULE_TIMEOUT)
		return;
	so = BPF_CORE_READ(sk, sk_socket);
	if (!so || (BPF_CORE_READ(so, file, f_flags) & O_NONBLOCK))
		return;
	stat_add(SHUNT_ST_RX_EAGAIN, 1);
	emit(SHUNT_EV_EAGAIN, &st->self, SHUNT_ST_RX_EAGAIN, st->ep_id, st->peer_ep_id,
	     st->active, 0);
	if (st->in_hash)
		want_tcp_rx(st);
}

/*
 * Every recvmsg of shunt's sockets, on either path, ends here: count what
 * the application read.  MSG_PEEK reads nothing.  @sk is a trusted BTF
 * pointer in each of the hooks below.
 */
static __always_inline void on_read(struct sock *sk, int ret, int flags)
{
	struct shunt_conn *conn;
	struct shunt_sk *st;
	__u32 seq, tcp_bytes;

	if (ret == -EAGAIN && !(flags & MSG_DONTWAIT)) {
		on_rx_eagain(sk);
		return;
	}
	if (ret <= 0 || (flags & MSG_PEEK))
		return;
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	if (!st)
		return;
	/* tcp_bpf_recvmsg may return short with MSG_WAITALL: this read was
	 * served, later ones will come from TCP. */
	if ((flags & MSG_WAITALL) && st->in_hash)
		want_tcp_rx(st);
	conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));
	if (!conn)
		return;
	__sync_fetch_and_add(&conn->read[me_idx(st)], ret);
	/* What this read took from TCP advanced copied_seq; the rest came from
	 * the psock. */
	seq = BPF_CORE_READ((struct tcp_sock *)sk, copied_seq);
	tcp_bytes = seq - conn->rx_seq[me_idx(st)];
	if (tcp_bytes < (__u32)ret)
		__sync_fetch_and_add(&conn->psock_read[me_idx(st)], ret - tcp_bytes);
	conn->rx_seq[me_idx(st)] = seq;
}

/*
 * The read counter, one of (the loader picks the first this kernel has,
 * rx_hook says which):
 *  - the tracepoint sock_recv_length (6.3+), after sock_recvmsg's call of
 *    sock->ops->recvmsg;
 *  - fexit on that call's two targets for TCP, inet_recvmsg and
 *    inet6_recvmsg (IPv6 and v4-mapped sockets), on kernels with BPF
 *    trampolines but no tracepoint (6.1).  Same arguments, same return
 *    value: sock_recvmsg_nosec passes both through (net/socket.c).
 * Hooks below inet_recvmsg would miss reads: tcp_bpf_recvmsg serves the
 * psock queue without calling tcp_recvmsg.
 */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(shunt_recv, struct sock *sk, int ret, int flags)
{
	on_read(sk, ret, flags);
	return 0;
}

#ifdef SHUNT_CLI_OBJ	/* not in the bpftool object: see the Makefile */
static __always_inline void on_recvmsg_exit(struct socket *sock, int flags, int ret)
{
	struct sock *sk = sock->sk;

	if (sk)
		on_read(sk, ret, flags);
}

SEC("?fexit/inet_recvmsg")
int BPF_PROG(shunt_recv4, struct socket *sock, struct msghdr *msg, size_t size,
	     int flags, int ret)
{
	on_recvmsg_exit(sock, flags, ret);
	return 0;
}

SEC("?fexit/inet6_recvmsg")
int BPF_PROG(shunt_recv6, struct socket *sock, struct msghdr *msg, size_t size,
	     int flags, int ret)
{
	on_recvmsg_exit(sock, flags, ret);
	return 0;
}
#endif

/*
 * setsockopt(SO_RCVLOWAT) on a socket of a redirected connection: the
 * redirect path ignores it, so finish the receiving direction on TCP.
 * setsockopt(SO_RCVBUF): the flow-control bound towards it follows.
 * Attached to the same cgroups as shunt_sockops.
 */
SEC("cgroup/setsockopt")
int shunt_setsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	int *val = ctx->optval;
	struct shunt_sk *st;

	if (!sk || ctx->level != SOL_SOCKET ||
	    (ctx->optname != SO_RCVLOWAT && ctx->optname != SO_RCVBUF))
		return 1;
	if ((void *)(val + 1) > ctx->optval_end)
		return 1;
	st = bpf_sk_storage_get(&shunt_sk, sk, 0, 0);
	if (!st || !st->in_hash)
		return 1;
	if (ctx->optname == SO_RCVBUF) {
		/* The kernel doubles it (sock_setsockopt); so do we. */
		struct shunt_conn *conn = bpf_map_lookup_elem(&shunt_conns, conn_key(st));

		if (conn && *val > 0 && *val < (1 << 29))
			conn->rcvbuf[me_idx(st)] = *val * 2;
	} else if (*val > 1) {
		want_tcp_rx(st);
	}
	return 1;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The vsock bridge from the BPF side (issue 13): steer a connection to an
 * endpoint in another VM to the local agent at connect time, hand its
 * original destination to the agent, and show the application the address
 * it dialled.  Layouts and the reasons are in include/shunt/shunt.h;
 * docs/bridge.md has the design.  Included once, by bpf/shunt.bpf.c, after
 * sockops_addr().
 *
 * Program types and helpers used, all in 6.1: cgroup/connect4/6 (4.17),
 * getpeername4/6 (5.8), bpf_sk_lookup_tcp from sock_addr (5.2),
 * bpf_get_netns_cookie from sock_addr (5.7), sk storage from sock_addr.
 */
#ifndef SHUNT_BPF_BRIDGE_H
#define SHUNT_BPF_BRIDGE_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SHUNT_MAX_ADDR_ENTRIES);
	__type(key, struct shunt_br_dst_key);
	__type(value, struct shunt_br_dst_val);
} shunt_br_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_br_agent);
} shunt_br_agent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct shunt_br_orig);
} shunt_br_sk SEC(".maps");

/* LRU: a steered socket the agent never accepts (it died) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct shunt_br_handover_key);
	__type(value, struct shunt_br_orig);
} shunt_br_handover SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SHUNT_BR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} shunt_br_stats SEC(".maps");

static __always_inline void br_stat(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&shunt_br_stats, &idx);

	if (c)
		*c += 1;
}

/*
 * Is the agent alive for a socket in this netns?  Its heartbeat is fresh
 * and its listener exists: a killed agent's listener is gone at once, a
 * hung one's heartbeat within SHUNT_BR_HEARTBEAT_NS.
 */
static __always_inline int br_agent_port(struct bpf_sock_addr *ctx, int v6)
{
	struct bpf_sock_tuple t = {};
	struct shunt_br_agent *ag;
	struct bpf_sock *l;
	__u32 zero = 0;

	ag = bpf_map_lookup_elem(&shunt_br_agent, &zero);
	if (!ag || !ag->port || bpf_ktime_get_ns() - ag->heartbeat_ns > SHUNT_BR_HEARTBEAT_NS) {
		br_stat(SHUNT_BR_NO_AGENT);
		return 0;
	}
	if (ag->netns != bpf_get_netns_cookie(ctx)) {
		br_stat(SHUNT_BR_OTHER_NETNS);
		return 0;
	}
	if (v6) {
		t.ipv6.daddr[3] = bpf_htonl(1);
		t.ipv6.dport = bpf_htons(ag->port);
		l = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	} else {
		t.ipv4.daddr = bpf_htonl(0x7f000001);
		t.ipv4.dport = bpf_htons(ag->port);
		l = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	if (!l) {
		br_stat(SHUNT_BR_NO_AGENT);
		return 0;
	}
	bpf_sk_release(l);
	return ag->port;
}

/*
 * Writes @a (network order words, IPv4 in a[0]) and @port as the address
 * of a sock_addr call: IPv4 for a v4 socket, v4-mapped or IPv6 for a v6 one.
 */
static __always_inline void br_set_addr(struct bpf_sock_addr *ctx, int v6, int a_v6,
					__u32 a0, __u32 a1, __u32 a2, __u32 a3, __u16 port)
{
	if (!v6) {
		ctx->user_ip4 = a0;
	} else if (!a_v6) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = a0;
	} else {
		ctx->user_ip6[0] = a0;
		ctx->user_ip6[1] = a1;
		ctx->user_ip6[2] = a2;
		ctx->user_ip6[3] = a3;
	}
	ctx->user_port = bpf_htons(port);
}

static __always_inline int br_connect(struct bpf_sock_addr *ctx, int v6)
{
	struct shunt_br_dst_key k = {};
	struct shunt_br_dst_val *d;
	struct shunt_br_orig *o;
	struct shunt_cfg *cfg;
	__u32 zero = 0, a[4];
	int port;

	if (ctx->type != SOCK_STREAM || !ctx->sk)
		return 1;
	cfg = bpf_map_lookup_elem(&shunt_cfg, &zero);
	if (!cfg)
		return 1;
	if (v6) {
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		a[0] = ctx->user_ip4;
	}
	shunt_addr_set(&k.addr, v6, a);
	k.gen = cfg->gen;
	d = bpf_map_lookup_elem(&shunt_br_dst, &k);
	if (!d)
		return 1;		/* not another VM's endpoint: untouched */
	if (!d->ep_id) {
		br_stat(SHUNT_BR_AMBIGUOUS);
		return 1;
	}
	port = br_agent_port(ctx, v6 && k.addr.family == SHUNT_AF_INET6);
	if (!port)
		return 1;
	o = bpf_sk_storage_get(&shunt_br_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 1;
	o->addr = k.addr;
	o->port = bpf_ntohs(ctx->user_port);
	o->net_id = d->net_id;
	o->ep_id = d->ep_id;
	o->via6 = v6 && k.addr.family == SHUNT_AF_INET6;
	/* 127.0.0.1 (also as ::ffff:127.0.0.1 for a dual-stack socket), or ::1 */
	br_set_addr(ctx, v6, o->via6, bpf_htonl(o->via6 ? 0 : 0x7f000001), 0, 0, bpf_htonl(1), port);
	br_stat(SHUNT_BR_STEERED);
	return 1;
}

SEC("cgroup/connect4")
int shunt_connect4(struct bpf_sock_addr *ctx)
{
	return br_connect(ctx, 0);
}

SEC("cgroup/connect6")
int shunt_connect6(struct bpf_sock_addr *ctx)
{
	return br_connect(ctx, 1);
}

/* The application sees the address it dialled, not the agent's. */
static __always_inline int br_getpeername(struct bpf_sock_addr *ctx, int v6)
{
	struct shunt_br_orig *o;

	if (!ctx->sk)
		return 1;
	o = bpf_sk_storage_get(&shunt_br_sk, ctx->sk, 0, 0);
	if (!o)
		return 1;
	br_set_addr(ctx, v6, o->addr.family == SHUNT_AF_INET6, o->addr.a[0], o->addr.a[1],
		    o->addr.a[2], o->addr.a[3], o->port);
	return 1;
}

SEC("cgroup/getpeername4")
int shunt_getpeername4(struct bpf_sock_addr *ctx)
{
	return br_getpeername(ctx, 0);
}

SEC("cgroup/getpeername6")
int shunt_getpeername6(struct bpf_sock_addr *ctx)
{
	return br_getpeername(ctx, 1);
}

/*
 * sock_ops TCP_CONNECT_CB: the SYN is about to leave, the local address
 * and port are set.  Publish the original destination for the agent's accept(), which
 * cannot happen before the handshake completes.
 */
static __always_inline void br_on_connect(struct bpf_sock_ops *skops)
{
	struct shunt_br_handover_key k = {};
	struct bpf_sock *sk = skops->sk;
	struct shunt_br_orig *o;

	if (!sk)
		return;
	o = bpf_sk_storage_get(&shunt_br_sk, sk, 0, 0);
	if (!o || sockops_addr(skops, 1, &k.src))
		return;
	k.netns = bpf_get_netns_cookie(skops);
	k.port = skops->local_port;
	bpf_map_update_elem(&shunt_br_handover, &k, o, BPF_ANY);
}

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The operators' view from the BPF side (issue 11): per-endpoint counters,
 * the record of sockets classified for TCP, and the event stream.  Layouts
 * are in include/shunt/shunt.h.  Included once, by bpf/shunt.bpf.c, after
 * its stat_add().
 */
#ifndef SHUNT_BPF_OBSERVE_H
#define SHUNT_BPF_OBSERVE_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * SHUNT_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct shunt_ep_stat);
} shunt_ep_stats SEC(".maps");

/* All zeroes, never written: where a new shunt_ep_stats entry is copied
 * from (a 248-byte zero struct would not fit the sk_msg stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_ep_stat);
} shunt_ep_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_MAX_CONNS);
	__type(key, __u64);			/* socket cookie */
	__type(value, struct shunt_tcp_conn);
} shunt_tcp_conns SEC(".maps");

struct shunt_ev_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SHUNT_EV_RING_SIZE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SHUNT_EV_READERS);
	__type(key, __u32);
	__array(values, struct shunt_ev_ring);
} shunt_ev_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHUNT_EV_READERS);
	__type(key, __u32);
	__type(value, __u64);
} shunt_ev_readers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHUNT_EV_READERS);
	__type(key, __u32);
	__type(value, __u64);
} shunt_ev_lost SEC(".maps");

/* The counters of endpoint @ep, created on first use; NULL for 0 (none)
 * or when the map is full (then that endpoint is just not counted). */
static __always_inline struct shunt_ep_stat *ep_stat(__u32 ep)
{
	struct shunt_ep_stat *s, *zero;
	__u32 z = 0;

	if (!ep)
		return NULL;
	s = bpf_map_lookup_elem(&shunt_ep_stats, &ep);
	if (s)
		return s;
	zero = bpf_map_lookup_elem(&shunt_ep_zero, &z);
	if (!zero)
		return NULL;
	bpf_map_update_elem(&shunt_ep_stats, &ep, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&shunt_ep_stats, &ep);
}

static __always_inline void ep_tcp(__u32 ep, __u32 why)
{
	struct shunt_ep_stat *s = ep_stat(ep);

	if (s && why < SHUNT_ST_MAX)
		s->tcp[why]++;
}

/* Per-CPU: plain increments, as in stat_add. */
static __always_inline void ep_bytes(__u32 from, __u32 to, __u64 n)
{
	struct shunt_ep_stat *s = ep_stat(from);

	if (s)
		s->bytes_sent += n;
	s = ep_stat(to);
	if (s)
		s->bytes_received += n;
}

static __always_inline void ep_redirected(__u32 a, __u32 b)
{
	struct shunt_ep_stat *s = ep_stat(a);

	if (s)
		s->conns_redirected++;
	s = ep_stat(b);
	if (s)
		s->conns_redirected++;
}

/*
 * One event to every live reader.  The slot loop is bounded (8) and costs
 * eight array lookups when nobody listens; events are per decision, never
 * per message.
 */
static __always_inline void emit(__u32 type, const struct shunt_sock_key *key,
				 __u32 reason, __u32 ep, __u32 peer_ep, __u32 active,
				 __u64 value)
{
	struct shunt_event ev;
	__u64 now = bpf_ktime_get_ns();
	bool built = false;

	/* The map key is a copy: with &i itself on the stack the verifier
	 * loses i's bounds and takes the bounded loop for an infinite one. */
	for (__u32 i = 0; i < SHUNT_EV_READERS; i++) {
		__u32 k = i;
		__u64 *beat = bpf_map_lookup_elem(&shunt_ev_readers, &k), *lost;
		void *ring;

		if (!beat || !*beat || now - *beat > SHUNT_EV_HEARTBEAT_NS)
			continue;
		ring = bpf_map_lookup_elem(&shunt_ev_rings, &k);
		if (!ring)
			continue;
		if (!built) {
			ev.ts_ns = now;
			ev.type = type;
			ev.reason = reason;
			ev.ep_id = ep;
			ev.peer_ep_id = peer_ep;
			ev.active = active;
			ev.pad = 0;
			ev.value = value;
			ev.key = *key;
			built = true;
		}
		if (bpf_ringbuf_output(ring, &ev, sizeof(ev), 0) &&
		    (lost = bpf_map_lookup_elem(&shunt_ev_lost, &k)))
			__sync_fetch_and_add(lost, 1);
	}
}

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vsock_probe: the sk_skb verdict program of tests/integ/t_vsock_probe.sh.
 * Laid out like the kernel's selftest prog_tests/sockmap_redir.c: the source
 * socket sits in src_map, which carries this verdict program; the target sits
 * alone in dst_map (no programs) at index 0.  Every skb arriving on the
 * source is redirected to dst_map[0] with the flags in cfg[0] (0 = egress,
 * BPF_F_INGRESS = into the target's own receive queue).  stats counts the
 * helper's answers and the bytes it was asked to move.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define VP_FLAGS_IDX	0

enum { ST_PASS, ST_DROP, ST_PASS_BYTES, ST_DROP_BYTES, ST_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} src_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dst_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("sk_skb")
int vsock_probe_verdict(struct __sk_buff *skb)
{
	__u32 k = VP_FLAGS_IDX;
	__u64 *flags = bpf_map_lookup_elem(&cfg, &k);
	long ret;

	ret = bpf_sk_redirect_map(skb, &dst_map, 0, flags ? *flags : 0);
	if (ret == SK_PASS) {
		count(ST_PASS, 1);
		count(ST_PASS_BYTES, skb->len);
	} else {
		count(ST_DROP, 1);
		count(ST_DROP_BYTES, skb->len);
	}
	return ret;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

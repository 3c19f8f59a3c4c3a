// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The operators' view, read side: per-endpoint counters (shunt_ep_stats)
 * and the connections shunt holds (shunt_conns, shunt_tcp_conns).  All
 * reads are lock-free walks of BPF maps that change under them: an entry
 * may come or go during a walk, which only means it is shown or not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

int shunt_ep_stats_read(struct shunt_ctx *c, __u32 ep_id, struct shunt_ep_stat *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct shunt_ep_stat *v;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return shunt_set_error(EINVAL, "cannot count CPUs");
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return shunt_set_error(ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(c->ep_stats_fd, &ep_id, v)) {
		free(v);
		return errno == ENOENT ? 0 : shunt_set_error(errno, "read shunt_ep_stats: %s", strerror(errno));
	}
	for (int i = 0; i < ncpu; i++) {
		out->conns_redirected += v[i].conns_redirected;
		out->bytes_sent += v[i].bytes_sent;
		out->bytes_received += v[i].bytes_received;
		for (int r = 0; r < SHUNT_ST_MAX; r++)
			out->tcp[r] += v[i].tcp[r];
	}
	free(v);
	return 0;
}

void shunt_ep_stats_gc(struct shunt_ctx *c, const struct ep_table *t)
{
	__u32 key, next, *prev = NULL;

	while (!bpf_map_get_next_key(c->ep_stats_fd, prev, &next)) {
		bool live = false;

		key = next;
		prev = &key;
		for (int i = 0; i < t->n && !live; i++)
			live = t->eps[i].ep_id == key;
		if (!live)
			bpf_map_delete_elem(c->ep_stats_fd, &key);
	}
}

static int grow(struct shunt_conn_view **v, int n, int *cap)
{
	struct shunt_conn_view *nv;

	if (n < *cap)
		return 0;
	*cap = *cap ? 2 * *cap : 64;
	nv = realloc(*v, *cap * sizeof(**v));
	if (!nv)
		return shunt_set_error(ENOMEM, "out of memory");
	*v = nv;
	return 0;
}

/* The same socket's 4-tuple (the netns cookie and network may be unknown
 * on one side: the mirrored view of a record carries neither). */
static bool same_tuple(const struct shunt_sock_key *a, const struct shunt_sock_key *b)
{
	return a->lport == b->lport && a->rport == b->rport && addr_equal(&a->laddr, &b->laddr) &&
	       addr_equal(&a->raddr, &b->raddr);
}

int shunt_conns_read(struct shunt_ctx *c, bool all, struct shunt_conn_view **out, int *n)
{
	struct shunt_sock_key k, nk, *prev = NULL;
	struct shunt_conn_view *v = NULL;
	struct shunt_tcp_conn rec;
	struct shunt_conn conn;
	__u64 now = shunt_mono_ns(), ck, nck, *cprev = NULL;
	int cnt = 0, cap = 0, err, first_tcp;

	while (!bpf_map_get_next_key(c->conns_fd, prev, &nk)) {
		struct shunt_conn_view *x;

		k = nk;
		prev = &k;
		if (bpf_map_lookup_elem(c->conns_fd, &k, &conn))
			continue;	/* closed meanwhile */
		if ((err = grow(&v, cnt, &cap)))
			goto fail;
		x = &v[cnt++];
		memset(x, 0, sizeof(*x));
		/* The key is the connecting end's; the other's view mirrors it
		 * (its netns cookie is its endpoint's, unknown here: 0). */
		x->key[0] = k;
		shunt_sock_key_peer(&x->key[1], &k, 0);
		for (int i = 0; i < 2; i++) {
			x->ep_id[i] = conn.ep_id[i];
			x->tx[i] = conn.tx[i];
			x->sent[i] = conn.sent[i];
			x->queued[i] = conn.sent[i] > conn.read[!i] ? conn.sent[i] - conn.read[!i] : 0;
		}
		x->state = conn.state;
		x->age_ns = conn.start_ns && now > conn.start_ns ? now - conn.start_ns : 0;
	}
	first_tcp = cnt;
	while (all && !bpf_map_get_next_key(c->tcp_conns_fd, cprev, &nck)) {
		struct shunt_conn_view *x = NULL;
		int me;

		ck = nck;
		cprev = &ck;
		if (bpf_map_lookup_elem(c->tcp_conns_fd, &ck, &rec))
			continue;
		me = !rec.active;	/* 0: the connecting end */
		/* Both ends of one connection may have a record (both in
		 * attached cgroups): one row, seen from both ends. */
		for (int i = first_tcp; i < cnt && !x; i++)
			if (v[i].reason[me] == SHUNT_ST_MAX && same_tuple(&v[i].key[me], &rec.key))
				x = &v[i];
		if (!x) {
			if ((err = grow(&v, cnt, &cap)))
				goto fail;
			x = &v[cnt++];
			memset(x, 0, sizeof(*x));
			x->reason[0] = x->reason[1] = SHUNT_ST_MAX;
			shunt_sock_key_peer(&x->key[!me], &rec.key, 0);
			x->ep_id[!me] = rec.peer_ep_id;
			x->tx[0] = x->tx[1] = SHUNT_TX_TCP;
			x->tcp_only = true;
			x->age_ns = rec.start_ns && now > rec.start_ns ? now - rec.start_ns : 0;
		}
		x->key[me] = rec.key;
		if (rec.ep_id)
			x->ep_id[me] = rec.ep_id;
		if (!x->key[!me].net_id)
			x->key[!me].net_id = rec.key.net_id;
		x->reason[me] = rec.reason;
	}
	/* Row keys: the connecting end's view carries the network. */
	for (int i = first_tcp; i < cnt; i++)
		if (!v[i].key[0].net_id)
			v[i].key[0].net_id = v[i].key[1].net_id;
	*out = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	return err;
}

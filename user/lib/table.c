// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The endpoint table in the pinned maps: read, and replace atomically. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "log.h"

int shunt_get_cfg(struct shunt_ctx *c, struct shunt_cfg *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->cfg_fd, &zero, cfg))
		return shunt_set_error(errno, "read shunt_cfg: %s", strerror(errno));
	return 0;
}

static void meta_to_ep(const struct shunt_ep_meta_key *k,
		       const struct shunt_ep_meta *m, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	snprintf(ep->name, sizeof(ep->name), "%s", k->name);
	snprintf(ep->network, sizeof(ep->network), "%s", m->network);
	snprintf(ep->netns, sizeof(ep->netns), "%s", m->netns);
	memcpy(ep->mac, m->mac, 6);
	ep->has_mac = m->has_mac;
	ep->naddrs = m->naddrs > SHUNT_MAX_ADDRS ? SHUNT_MAX_ADDRS : m->naddrs;
	memcpy(ep->addrs, m->addrs, sizeof(ep->addrs));
	ep->netns_cookie = m->netns_cookie;
	ep->net_id = m->net_id;
	ep->ep_id = m->ep_id;
	snprintf(ep->owner, sizeof(ep->owner), "%s", m->owner);
	ep->cgroup_id = m->cgroup_id;
	snprintf(ep->vm, sizeof(ep->vm), "%s", m->vm);
}

static int cmp_ep_id(const void *a, const void *b)
{
	const struct endpoint *x = a, *y = b;

	return x->ep_id < y->ep_id ? -1 : x->ep_id > y->ep_id;
}

static int read_gen(struct shunt_ctx *c, __u32 gen, struct ep_table *t)
{
	struct shunt_ep_meta_key key, next, *prev = NULL;
	struct shunt_ep_meta meta;
	struct endpoint ep;

	memset(t, 0, sizeof(*t));
	while (!bpf_map_get_next_key(c->endpoints_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.gen != gen ||
		    bpf_map_lookup_elem(c->endpoints_fd, &key, &meta))
			continue;
		meta_to_ep(&key, &meta, &ep);
		if (ep_table_add(t, &ep)) {
			ep_table_free(t);
			return shunt_set_error(EINVAL, "stored endpoint table is inconsistent: %s",
					       shunt_strerror());
		}
	}
	/* Hash order is arbitrary; list in the order endpoints were added. */
	qsort(t->eps, t->n, sizeof(*t->eps), cmp_ep_id);
	return 0;
}

/*
 * Readers take no lock (status, list, an event stream must never block a
 * container's start).  A writer fills the idle generation, then flips gen
 * and bumps seq in one update of shunt_cfg, then purges the old
 * generation: a reader that saw the same seq before and after its walk
 * read one whole generation, as in a seqlock; else it walks again.
 */
int shunt_ep_read(struct shunt_ctx *c, struct ep_table *t)
{
	struct shunt_cfg before, after;
	int err;

	for (int tries = 0; tries < 100; tries++) {
		err = shunt_get_cfg(c, &before);
		if (err)
			return err;
		err = read_gen(c, before.gen, t);
		if (shunt_get_cfg(c, &after))
			after.seq = before.seq + 1;
		if (after.seq == before.seq && after.gen == before.gen)
			return err;
		if (!err)
			ep_table_free(t);
		usleep(1000);
	}
	return shunt_set_error(EAGAIN, "endpoint table kept changing while being read");
}

/* Deletes every entry of generation @gen from the three endpoint maps. */
static void purge_gen(struct shunt_ctx *c, __u32 gen)
{
	struct { int fd; size_t ksz; size_t gen_off; } maps[] = {
		{ c->ep_local_fd, sizeof(struct shunt_ep_local_key),
		  offsetof(struct shunt_ep_local_key, gen) },
		{ c->ep_peer_fd, sizeof(struct shunt_ep_peer_key),
		  offsetof(struct shunt_ep_peer_key, gen) },
		{ c->endpoints_fd, sizeof(struct shunt_ep_meta_key),
		  offsetof(struct shunt_ep_meta_key, gen) },
		{ c->br_dst_fd, sizeof(struct shunt_br_dst_key),
		  offsetof(struct shunt_br_dst_key, gen) },
	};
	char key[256], next[256];

	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
		void *prev = NULL;

		/* Deleting while walking can restart the walk; that is fine,
		 * each pass deletes at least the key it stands on. */
		while (!bpf_map_get_next_key(maps[m].fd, prev, next)) {
			__u32 g;

			memcpy(&g, next + maps[m].gen_off, sizeof(g));
			memcpy(key, next, maps[m].ksz);
			if (g == gen)
				bpf_map_delete_elem(maps[m].fd, key);
			prev = key;
		}
	}
}

/*
 * Another VM's address, for the connect hook's steering.  The same address
 * in two networks cannot be told apart before the socket binds: that
 * entry becomes ambiguous (ep_id 0), and such connections are not steered.
 */
static int br_dst_add(struct shunt_ctx *c, __u32 gen, const struct endpoint *ep,
		      const struct shunt_addr *addr)
{
	struct shunt_br_dst_key k = { .gen = gen, .addr = *addr };
	struct shunt_br_dst_val v = { ep->net_id, ep->ep_id }, old;

	if (!bpf_map_update_elem(c->br_dst_fd, &k, &v, BPF_NOEXIST))
		return 0;
	if (errno != EEXIST || bpf_map_lookup_elem(c->br_dst_fd, &k, &old))
		return -1;
	v.ep_id = 0;
	return bpf_map_update_elem(c->br_dst_fd, &k, &v, BPF_ANY);
}

static int write_gen(struct shunt_ctx *c, const struct ep_table *t, __u32 gen)
{
	for (int i = 0; i < t->n; i++) {
		const struct endpoint *ep = &t->eps[i];
		struct shunt_ep_meta_key mk = { .gen = gen };
		struct shunt_ep_meta meta = {};

		__u32 loc = ep->vm[0] ? SHUNT_LOC_VSOCK : SHUNT_LOC_NETNS;

		for (int a = 0; a < ep->naddrs; a++) {
			struct shunt_ep_local_key lk;
			struct shunt_ep_local_val lv = { ep->net_id, ep->ep_id };
			struct shunt_ep_peer_key pk;
			struct shunt_ep_peer_val pv = { ep->netns_cookie, ep->ep_id, loc };

			/* A VM's sockets are not this kernel's: peers only. */
			shunt_ep_local_key_build(&lk, ep->netns_cookie, gen, &ep->addrs[a]);
			shunt_ep_peer_key_build(&pk, ep->net_id, gen, &ep->addrs[a]);
			if ((loc == SHUNT_LOC_NETNS &&
			     bpf_map_update_elem(c->ep_local_fd, &lk, &lv, BPF_ANY)) ||
			    bpf_map_update_elem(c->ep_peer_fd, &pk, &pv, BPF_ANY) ||
			    (loc == SHUNT_LOC_VSOCK && br_dst_add(c, gen, ep, &ep->addrs[a])))
				goto fail;
		}
		snprintf(mk.name, sizeof(mk.name), "%s", ep->name);
		snprintf(meta.network, sizeof(meta.network), "%s", ep->network);
		snprintf(meta.netns, sizeof(meta.netns), "%s", ep->netns);
		meta.netns_cookie = ep->netns_cookie;
		meta.net_id = ep->net_id;
		meta.ep_id = ep->ep_id;
		meta.loc = loc;
		snprintf(meta.vm, sizeof(meta.vm), "%s", ep->vm);
		memcpy(meta.mac, ep->mac, 6);
		meta.has_mac = ep->has_mac;
		meta.naddrs = ep->naddrs;
		memcpy(meta.addrs, ep->addrs, sizeof(meta.addrs));
		snprintf(meta.owner, sizeof(meta.owner), "%s", ep_owner(ep));
		meta.cgroup_id = ep->cgroup_id;
		if (bpf_map_update_elem(c->endpoints_fd, &mk, &meta, BPF_ANY))
			goto fail;
	}
	return 0;
fail:
	if (errno == E2BIG || errno == ENOMEM)
		return shunt_set_error(errno, "endpoint maps full");
	return shunt_set_error(errno, "endpoint map update: %s", strerror(errno));
}

/*
 * Two generations of the table live in the maps; BPF reads cfg.gen once per
 * connection and looks up only that generation.  Writing the idle generation
 * and then flipping cfg.gen makes a replacement atomic for every new
 * connection: it sees the old table or the new one, never a mix.  A crash
 * halfway leaves stale idle-generation entries, which the next write purges.
 */
int shunt_ep_write(struct shunt_ctx *c, struct ep_table *t)
{
	struct shunt_cfg cfg;
	__u32 zero = 0, next;
	int err;

	err = ep_table_validate(t);
	if (err)
		return shunt_set_error(err, "%s", shunt_strerror());
	for (int i = 0; i < t->n; i++) {
		if (t->eps[i].netns_cookie || t->eps[i].vm[0])
			continue;	/* a VM's endpoint has no netns here */
		err = shunt_netns_cookie(t->eps[i].netns, &t->eps[i].netns_cookie);
		if (err)
			return shunt_set_error(err, "endpoint \"%s\": %s", t->eps[i].name, shunt_strerror());
	}
	/* BPF finds a socket's endpoint by (netns, address): that pair must be
	 * unique across networks too, or the lookup would be ambiguous. */
	for (int i = 0; i < t->n; i++)
		for (int j = 0; j < i; j++)
			for (int a = 0; a < t->eps[i].naddrs; a++)
				for (int b = 0; b < t->eps[j].naddrs; b++) {
					char buf[64];

					if (!t->eps[i].netns_cookie ||
					    t->eps[i].netns_cookie != t->eps[j].netns_cookie ||
					    !addr_equal(&t->eps[i].addrs[a], &t->eps[j].addrs[b]))
						continue;
					addr_format(&t->eps[i].addrs[a], buf, sizeof(buf));
					return shunt_set_error(EEXIST, "endpoint \"%s\": address %s in that netns already belongs to endpoint \"%s\" (network \"%s\")",
							       t->eps[i].name, buf, t->eps[j].name, t->eps[j].network);
				}
	err = shunt_get_cfg(c, &cfg);
	if (err)
		return err;
	ep_table_assign_ids(t, &cfg.ep_id_hw, &cfg.net_id_hw);
	next = !cfg.gen;
	purge_gen(c, next);
	err = write_gen(c, t, next);
	if (err) {
		purge_gen(c, next);
		return err;
	}
	cfg.gen = next;
	cfg.seq++;
	if (bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY)) {
		err = shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
		purge_gen(c, next);
		return err;
	}
	purge_gen(c, !next);
	shunt_ep_stats_gc(c, t);
	return 0;
}

/* --- status --------------------------------------------------------- */

/* Adds @n to a counter user space keeps in the per-CPU stats (CPU 0's slot). */
void shunt_stat_add(struct shunt_ctx *c, enum shunt_stat st, __u64 n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 key = st;
	__u64 *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	if (!bpf_map_lookup_elem(c->stats_fd, &key, vals)) {
		vals[0] += n;
		bpf_map_update_elem(c->stats_fd, &key, vals, BPF_ANY);
	}
	free(vals);
}

/*
 * Replaces the entries of @owner with @mine (which may be empty), keeping
 * each one's ids by name, and leaves everyone else's entries alone.  An
 * entry of @mine that conflicts with another owner's (same name or address)
 * is refused, unless that entry's netns is gone and @replace_stale is set:
 * then the stale entry is dropped, logged and counted (a container killed
 * without `delete`, a crashed runtime).  Takes no lock: the caller holds
 * the instance lock (shunt_lock).
 */
int shunt_ep_set_owned(struct shunt_ctx *c, const char *owner,
		       const struct ep_table *mine, bool replace_stale)
{
	struct ep_table t, old = {};
	int err, stale = 0;

	err = owner_check(owner);
	if (err)
		return err;
	err = shunt_ep_read(c, &t);
	if (err)
		return err;
	for (int i = 0; i < t.n; i++)
		if (ep_owned_by(&t.eps[i], owner) && (err = ep_table_add(&old, &t.eps[i])))
			goto out;
	ep_table_drop_owner(&t, owner);
	for (int i = 0; i < mine->n; i++) {
		struct endpoint ep = mine->eps[i];
		int k;

		snprintf(ep.owner, sizeof(ep.owner), "%s", owner);
		ep.ep_id = ep.net_id = 0;
		if (!ep.netns_cookie && !ep.vm[0]) {
			err = shunt_netns_cookie(ep.netns, &ep.netns_cookie);
			if (err) {
				err = shunt_set_error(err, "endpoint \"%s\": %s", ep.name, shunt_strerror());
				goto out;
			}
		}
		while ((k = ep_table_conflict(&t, &ep)) >= 0) {
			struct endpoint *o = &t.eps[k];

			if (!replace_stale || shunt_netns_alive(o->netns, o->netns_cookie)) {
				err = shunt_set_error(EEXIST, "endpoint \"%s\": its name or an address is taken by endpoint \"%s\" (owner %s, network %s, netns %s)",
						      ep.name, o->name, ep_owner(o), o->network,
						      o->netns[0] ? o->netns : "(own)");
				goto out;
			}
			pr_info("endpoint \"%s\" (owner %s, netns %s) replaced by \"%s\": its netns is gone\n",
				o->name, ep_owner(o), o->netns, ep.name);
			memmove(o, o + 1, (t.eps + t.n - o - 1) * sizeof(*o));
			t.n--;
			stale++;
		}
		err = ep_table_add(&t, &ep);
		if (err)
			goto out;
	}
	ep_table_keep_ids(&t, &old);
	err = shunt_ep_write(c, &t);
	if (!err && stale)
		shunt_stat_add(c, SHUNT_ST_EP_STALE, stale);
out:
	ep_table_free(&old);
	ep_table_free(&t);
	return err;
}

/*
 * `endpoint load`: @file's entries become the static endpoints.  Entries of
 * other owners in it (a saved listing) are theirs: skipped, and counted in
 * *skipped_owner.  With @partial, a static entry whose netns does not
 * exist yet is logged and skipped (*skipped_netns) instead of failing the
 * whole load: what a boot-time restore needs before every netns is up.
 */
int shunt_ep_load_static(struct shunt_ctx *c, const struct ep_table *file, bool partial,
			 int *skipped_owner, int *skipped_netns)
{
	struct ep_table mine = {};
	int err = 0;

	*skipped_owner = *skipped_netns = 0;
	for (int i = 0; i < file->n && !err; i++) {
		struct endpoint ep = file->eps[i];

		if (!ep_owned_by(&ep, SHUNT_OWNER_STATIC)) {
			(*skipped_owner)++;
			continue;
		}
		if (partial && !ep.vm[0] && shunt_netns_cookie(ep.netns, &ep.netns_cookie)) {
			pr_warn("endpoint \"%s\" skipped: %s\n", ep.name, shunt_strerror());
			(*skipped_netns)++;
			continue;
		}
		err = ep_table_add(&mine, &ep);
	}
	if (!err)
		err = shunt_ep_set_owned(c, SHUNT_OWNER_STATIC, &mine, false);
	ep_table_free(&mine);
	return err;
}

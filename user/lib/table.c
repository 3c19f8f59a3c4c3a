// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The endpoint table in the pinned maps: read, and replace atomically. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "internal.h"

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
}

static int cmp_ep_id(const void *a, const void *b)
{
	const struct endpoint *x = a, *y = b;

	return x->ep_id < y->ep_id ? -1 : x->ep_id > y->ep_id;
}

int shunt_ep_read(struct shunt_ctx *c, struct ep_table *t)
{
	struct shunt_ep_meta_key key, next, *prev = NULL;
	struct shunt_ep_meta meta;
	struct shunt_cfg cfg;
	struct endpoint ep;
	int err;

	memset(t, 0, sizeof(*t));
	err = shunt_get_cfg(c, &cfg);
	if (err)
		return err;
	while (!bpf_map_get_next_key(c->endpoints_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.gen != cfg.gen ||
		    bpf_map_lookup_elem(c->endpoints_fd, &key, &meta))
			continue;
		meta_to_ep(&key, &meta, &ep);
		if (ep_table_add(t, &ep)) {
			ep_table_free(t);
			return shunt_set_error(EINVAL, "stored endpoint table is inconsistent: %s", shunt_strerror());
		}
	}
	/* Hash order is arbitrary; list in the order endpoints were added. */
	qsort(t->eps, t->n, sizeof(*t->eps), cmp_ep_id);
	return 0;
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

static int write_gen(struct shunt_ctx *c, const struct ep_table *t, __u32 gen)
{
	for (int i = 0; i < t->n; i++) {
		const struct endpoint *ep = &t->eps[i];
		struct shunt_ep_meta_key mk = { .gen = gen };
		struct shunt_ep_meta meta = {};

		for (int a = 0; a < ep->naddrs; a++) {
			struct shunt_ep_local_key lk;
			struct shunt_ep_local_val lv = { ep->net_id, ep->ep_id };
			struct shunt_ep_peer_key pk;
			struct shunt_ep_peer_val pv = { ep->netns_cookie, ep->ep_id,
							SHUNT_LOC_NETNS };

			shunt_ep_local_key_build(&lk, ep->netns_cookie, gen, &ep->addrs[a]);
			shunt_ep_peer_key_build(&pk, ep->net_id, gen, &ep->addrs[a]);
			if (bpf_map_update_elem(c->ep_local_fd, &lk, &lv, BPF_ANY) ||
			    bpf_map_update_elem(c->ep_peer_fd, &pk, &pv, BPF_ANY))
				goto fail;
		}
		snprintf(mk.name, sizeof(mk.name), "%s", ep->name);
		snprintf(meta.network, sizeof(meta.network), "%s", ep->network);
		snprintf(meta.netns, sizeof(meta.netns), "%s", ep->netns);
		meta.netns_cookie = ep->netns_cookie;
		meta.net_id = ep->net_id;
		meta.ep_id = ep->ep_id;
		meta.loc = SHUNT_LOC_NETNS;
		memcpy(meta.mac, ep->mac, 6);
		meta.has_mac = ep->has_mac;
		meta.naddrs = ep->naddrs;
		memcpy(meta.addrs, ep->addrs, sizeof(meta.addrs));
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
		if (t->eps[i].netns_cookie)
			continue;
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

					if (t->eps[i].netns_cookie != t->eps[j].netns_cookie ||
					    !addr_equal(&t->eps[i].addrs[a], &t->eps[j].addrs[b]))
						continue;
					addr_format(&t->eps[i].addrs[a], buf, sizeof(buf));
					return shunt_set_error(EEXIST, "endpoint \"%s\": address %s in that netns already belongs to endpoint \"%s\" (network \"%s\")",
							       t->eps[i].name, buf, t->eps[j].name, t->eps[j].network);
				}
	ep_table_assign_ids(t);

	err = shunt_get_cfg(c, &cfg);
	if (err)
		return err;
	next = !cfg.gen;
	purge_gen(c, next);
	err = write_gen(c, t, next);
	if (err) {
		purge_gen(c, next);
		return err;
	}
	cfg.gen = next;
	if (bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY)) {
		err = shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
		purge_gen(c, next);
		return err;
	}
	purge_gen(c, !next);
	return 0;
}

/* --- status --------------------------------------------------------- */

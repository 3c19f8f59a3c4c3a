// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `shunt explain`: the classifier of bpf/shunt.bpf.c replayed from user
 * space on the live maps, for both ends of a would-be connection, and the
 * cgroup attachment of each end as far as /proc tells.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "explain.h"
#include "bridge.h"
#include "internal.h"
#include "pinned.h"

const char *shunt_explain_reason(int st)
{
	if (st == SHUNT_ST_MAX || st == SHUNT_ST_CONN_REDIR)
		return "redirect";
	if (st < 0 || st > SHUNT_ST_MAX)
		return "not_counted";
	/* the counter's name without its "tcp_" */
	return shunt_stat_names[st] + (strncmp(shunt_stat_names[st], "tcp_", 4) ? 0 : 4);
}

const char *shunt_explain_cg_name(enum shunt_cg_state s)
{
	switch (s) {
	case SHUNT_CG_NOT_ATTACHED:
		return "not attached";
	case SHUNT_CG_ATTACHED:
		return "attached";
	case SHUNT_CG_PARTLY:
		return "partly attached";
	default:
		return "unknown";
	}
}

/* --- the classifier, on the maps ------------------------------------ */

/*
 * classify() of bpf/shunt.bpf.c for one socket's view, after its global
 * checks (read counter, pause): the socket's own netns cookie and local
 * address find its endpoint and network in shunt_ep_local; the network and
 * the remote address find the peer's owner in shunt_ep_peer.  The same
 * keys, built by the same shared builders, in the same generation.
 */
static int lookup_view(struct shunt_ctx *c, __u32 gen, __u64 netns,
		       const struct shunt_addr *laddr, const struct shunt_addr *raddr,
		       struct shunt_ep_local_val *lv, struct shunt_ep_peer_val *pv)
{
	struct shunt_ep_local_key lk;
	struct shunt_ep_peer_key pk;

	shunt_ep_local_key_build(&lk, netns, gen, laddr);
	if (bpf_map_lookup_elem(c->ep_local_fd, &lk, lv))
		return SHUNT_ST_TCP_NO_LOCAL;
	shunt_ep_peer_key_build(&pk, lv->net_id, gen, raddr);
	if (bpf_map_lookup_elem(c->ep_peer_fd, &pk, pv))
		return SHUNT_ST_TCP_NO_PEER;
	if (pv->loc != SHUNT_LOC_NETNS)
		return SHUNT_ST_TCP_PEER_REMOTE;
	if (pv->netns == netns)
		return SHUNT_ST_TCP_SAME_NETNS;
	return SHUNT_ST_MAX;
}

static const struct endpoint *ep_by_id(const struct ep_table *t, __u32 id)
{
	for (int i = 0; i < t->n; i++)
		if (t->eps[i].ep_id == id)
			return &t->eps[i];
	return NULL;
}

static bool ep_has(const struct endpoint *ep, const struct shunt_addr *a)
{
	for (int i = 0; i < ep->naddrs; i++)
		if (addr_equal(&ep->addrs[i], a))
			return true;
	return false;
}

/* Endpoints of @t holding @a (in @network unless NULL): how many, the first in *first. */
static int eps_with(const struct ep_table *t, const struct shunt_addr *a, const char *network,
		    const struct endpoint **first)
{
	int n = 0;

	*first = NULL;
	for (int i = 0; i < t->n; i++) {
		if (!ep_has(&t->eps[i], a) || (network && strcmp(t->eps[i].network, network)))
			continue;
		if (!n++)
			*first = &t->eps[i];
	}
	return n;
}

/* "ea in network default, netns a; eb in network n2, netns b" for errors and notes. */
static void eps_list(const struct ep_table *t, const struct shunt_addr *a, const char *network,
		     char *out, size_t len)
{
	size_t off = 0;

	out[0] = 0;
	for (int i = 0; i < t->n && off < len; i++) {
		const struct endpoint *ep = &t->eps[i];

		if (!ep_has(ep, a) || (network && strcmp(ep->network, network)))
			continue;
		off += snprintf(out + off, len - off, "%s%s in network %s, netns %s", off ? "; " : "",
				ep->name, ep->network, ep->netns[0] ? ep->netns : "(own)");
	}
}

static void side_set_ep(struct shunt_explain_side *s, const struct endpoint *ep)
{
	s->has_ep = true;
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", ep->name);
	snprintf(s->network, sizeof(s->network), "%s", ep->network);
	s->ep_id = ep->ep_id;
	s->net_id = ep->net_id;
	if (!s->netns_known) {
		snprintf(s->netns, sizeof(s->netns), "%s", ep->netns);
		s->netns_cookie = ep->netns_cookie;
		s->netns_known = true;
	}
}

/* --- cgroups: which processes live in a netns, and are they attached --- */

struct proc_ns {
	int pid;
	dev_t dev;
	ino_t ino;
};

struct proc_list {
	struct proc_ns *p;
	int n, cap;
};

/* Every process's netns (the inode of /proc/PID/ns/net), once per explain. */
static int procs_scan(struct proc_list *l)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir("/proc");

	if (!d)
		return shunt_set_error(errno, "/proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st))
			continue;	/* exited meanwhile, or a kernel thread */
		if (l->n == l->cap) {
			int cap = l->cap ? 2 * l->cap : 256;
			struct proc_ns *p = realloc(l->p, cap * sizeof(*p));

			if (!p) {
				closedir(d);
				return shunt_set_error(ENOMEM, "out of memory");
			}
			l->p = p;
			l->cap = cap;
		}
		l->p[l->n++] = (struct proc_ns){ atoi(de->d_name), st.st_dev, st.st_ino };
	}
	closedir(d);
	return 0;
}

/*
 * The inode of the netns with @cookie.  The name or path it was registered
 * with says it, if that still names this netns (a name can be reused for
 * a new one); else a process living in it does: each distinct netns of
 * /proc is asked for its cookie until one matches.  False: no such netns
 * found (gone, or nothing holds it but a mount we do not know).
 */
static bool netns_ino(const char *netns, __u64 cookie, const struct proc_list *l,
		      dev_t *dev, ino_t *ino)
{
	char path[PATH_MAX];
	struct stat st;
	__u64 k;

	shunt_netns_path(netns, path, sizeof(path));
	if (!shunt_netns_cookie(netns, &k) && k == cookie && !stat(path, &st)) {
		*dev = st.st_dev;
		*ino = st.st_ino;
		return true;
	}
	for (int i = 0; i < l->n; i++) {
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = l->p[j].ino == l->p[i].ino && l->p[j].dev == l->p[i].dev;
		if (seen)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", l->p[i].pid);
		if (!shunt_netns_cookie(path, &k) && k == cookie) {
			*dev = l->p[i].dev;
			*ino = l->p[i].ino;
			return true;
		}
	}
	return false;
}

/*
 * sock_ops runs for a socket if the cgroup of the process that made it (an
 * accepted socket: the listener's) or an ancestor is attached.  User space
 * cannot know which process will connect, so every process in the side's
 * netns is looked at: all covered is "attached", none "not attached".
 */
static void side_cgroups(struct shunt_ctx *c, struct shunt_explain_side *s,
			 const struct proc_list *l, const char *mnt)
{
	int attached = 0;
	dev_t dev;
	ino_t ino;

	s->cg_state = SHUNT_CG_UNKNOWN;
	if (!s->netns_known || !mnt[0] || !netns_ino(s->netns, s->netns_cookie, l, &dev, &ino))
		return;
	for (int i = 0; i < l->n; i++) {
		char cg[PATH_MAX], via[PATH_MAX];
		bool dup = false;

		if (l->p[i].ino != ino || l->p[i].dev != dev ||
		    shunt_cgroup_of_pid(l->p[i].pid, cg, sizeof(cg)))
			continue;
		s->nprocs++;
		if (strlen(cg) > 1 && cg[strlen(cg) - 1] == '/')	/* the root: "0::/" */
			cg[strlen(cg) - 1] = 0;
		for (int j = 0; j < s->ncgroups && j < SHUNT_EXPLAIN_CGROUPS && !dup; j++)
			dup = !strcmp(s->cg[j].path, cg);
		if (dup)
			continue;
		/* Beyond the listed ones a repeat is counted again: good enough
		 * for the attached/not-attached sums, which is what they serve. */
		if (shunt_cgroup_covered(c, cg, via, sizeof(via)))
			attached++;
		else
			via[0] = 0;
		if (s->ncgroups < SHUNT_EXPLAIN_CGROUPS) {
			snprintf(s->cg[s->ncgroups].path, sizeof(s->cg[0].path), "%s", cg);
			snprintf(s->cg[s->ncgroups].via, sizeof(s->cg[0].via), "%s", via);
		}
		s->ncgroups++;
	}
	if (!s->ncgroups)
		return;
	s->cg_state = attached == s->ncgroups ? SHUNT_CG_ATTACHED :
		      attached ? SHUNT_CG_PARTLY : SHUNT_CG_NOT_ATTACHED;
}

/* --- the table, read consistently ------------------------------------ */

static int count_sockets(struct shunt_ctx *c)
{
	struct shunt_sock_key k, nk, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(c->sockhash_fd, prev, &nk)) {
		k = nk;
		prev = &k;
		n++;
	}
	return n;
}

/*
 * The connecting socket's netns: --netns, else that of the one endpoint
 * holding SRC (in --network, if given).  No endpoint holds it: no netns,
 * and no netns could make the lookup succeed (no_local_endpoint anyway).
 */
static int src_netns(const struct ep_table *t, const struct shunt_explain_query *q,
		     struct shunt_explain_side *s)
{
	const struct endpoint *ep;
	char buf[64], list[1024];
	int n;

	if (q->netns) {
		if (strlen(q->netns) >= sizeof(s->netns))
			return shunt_set_error(EINVAL, "--netns: longer than %zu characters",
					       sizeof(s->netns) - 1);
		if (shunt_netns_cookie(q->netns, &s->netns_cookie))
			return shunt_set_error(ENOENT, "--netns %s: %s", q->netns, shunt_strerror());
		snprintf(s->netns, sizeof(s->netns), "%s", q->netns);
		s->netns_known = true;
		return 0;
	}
	n = eps_with(t, &s->addr, q->network, &ep);
	if (n == 1) {
		snprintf(s->netns, sizeof(s->netns), "%s", ep->netns);
		s->netns_cookie = ep->netns_cookie;
		s->netns_known = true;
	} else if (n > 1) {
		addr_format(&s->addr, buf, sizeof(buf));
		eps_list(t, &s->addr, q->network, list, sizeof(list));
		return shunt_set_error(EINVAL, "%s belongs to %d endpoints (%s): say which netns the connecting socket is in with --netns NS%s",
				       buf, n, list, q->network ? "" : ", or its network with --network NET");
	}
	return 0;
}

/* One pass over the table and the two lookups per end, at one generation. */
static int explain_gen(struct shunt_ctx *c, const struct shunt_cfg *cfg, const struct ep_table *t,
		       const struct shunt_explain_query *q, struct shunt_explain *e)
{
	struct shunt_ep_local_val lv = {}, lv2 = {};
	struct shunt_ep_peer_val pv = {}, pv2 = {};
	const struct endpoint *ep;
	int table, global, err;

	e->paused = cfg->flags & SHUNT_CFG_PAUSED;
	global = e->rx_hook == SHUNT_RX_NONE ? SHUNT_ST_TCP_NO_RX_HOOK :
		 e->paused ? SHUNT_ST_TCP_PAUSED : SHUNT_ST_MAX;
	err = src_netns(t, q, &e->src);
	if (err)
		return err;

	/* The connecting socket: local SRC, remote DST, in its netns. */
	table = SHUNT_ST_TCP_NO_LOCAL;
	if (e->src.netns_known)
		table = lookup_view(c, cfg->gen, e->src.netns_cookie, &e->src.addr, &e->dst.addr,
				    &lv, &pv);
	if (table != SHUNT_ST_TCP_NO_LOCAL) {
		if ((ep = ep_by_id(t, lv.ep_id)))
			side_set_ep(&e->src, ep);
		e->src.has_ep = true;
		e->src.net_id = lv.net_id;
	}
	if (table != SHUNT_ST_TCP_NO_LOCAL && table != SHUNT_ST_TCP_NO_PEER) {
		e->dst.has_ep = true;
		e->dst.ep_id = pv.ep_id;
		e->dst.net_id = lv.net_id;
		if (pv.loc == SHUNT_LOC_NETNS) {
			e->dst.netns_cookie = pv.netns;
			e->dst.netns_known = true;
		}
		if ((ep = ep_by_id(t, pv.ep_id))) {
			side_set_ep(&e->dst, ep);
			/* the netns is the map's, the name the table's */
			if (ep->netns_cookie == pv.netns)
				snprintf(e->dst.netns, sizeof(e->dst.netns), "%s", ep->netns);
		}
	} else if (eps_with(t, &e->dst.addr, e->src.has_ep ? e->src.network : q->network, &ep) == 1) {
		/* Not reached by the lookup, but listed: its netns tells what the
		 * passive socket would count, and whether it is attached. */
		side_set_ep(&e->dst, ep);
		e->dst.has_ep = false;
	}
	e->classify = global != SHUNT_ST_MAX ? global : table;
	e->table = table;

	/* The passive socket: local DST in the peer's netns, remote SRC. */
	e->reverse = -1;
	if (e->dst.netns_known) {
		int r = lookup_view(c, cfg->gen, e->dst.netns_cookie, &e->dst.addr, &e->src.addr,
				    &lv2, &pv2);

		/* Its keys mirror ours only if it lands in our network and
		 * finds our netns as SRC's owner (shunt_sock_key_peer). */
		e->reverse_mirrors = r == SHUNT_ST_MAX && e->src.netns_known &&
				     lv2.net_id == lv.net_id && pv2.netns == e->src.netns_cookie;
		e->reverse_table = r;
		e->reverse = global != SHUNT_ST_MAX ? global : r;
	} else if (eps_with(t, &e->dst.addr, NULL, &ep) == 0) {
		/* No endpoint holds DST anywhere: whatever netns the passive
		 * socket is in, its own lookup fails first. */
		e->reverse_table = SHUNT_ST_TCP_NO_LOCAL;
		e->reverse = global != SHUNT_ST_MAX ? global : SHUNT_ST_TCP_NO_LOCAL;
	}
	return 0;
}

/* --- the verdict ------------------------------------------------------ */

static const char *cg_first(const struct shunt_explain_side *s, bool attached)
{
	for (int i = 0; i < s->ncgroups && i < SHUNT_EXPLAIN_CGROUPS; i++)
		if (!!s->cg[i].via[0] == attached)
			return s->cg[i].path;
	return "?";
}

/* Why the classifier said @st for a view from @l (local) towards @r. */
static void why(char *out, size_t len, int st, const struct shunt_explain *e,
		const struct shunt_explain_side *l, const struct shunt_explain_side *r,
		const struct ep_table *t, const struct shunt_explain_query *q)
{
	char la[64], ra[64], list[640];

	addr_format(&l->addr, la, sizeof(la));
	addr_format(&r->addr, ra, sizeof(ra));
	switch (st) {
	case SHUNT_ST_TCP_NO_RX_HOOK:
		snprintf(out, len, "this kernel has no read counter, so shunt redirects nothing (see 'shunt features')");
		break;
	case SHUNT_ST_TCP_PAUSED:
		snprintf(out, len, "the instance is paused (an unload refused or under way): new connections stay on TCP until 'shunt load' resumes it");
		break;
	case SHUNT_ST_TCP_NO_LOCAL:
		if (!l->netns_known) {
			eps_list(t, &l->addr, NULL, list, sizeof(list));
			if (q->network && list[0])
				snprintf(out, len, "%s is not an endpoint of network %s (it is %s)", la,
					 q->network, list);
			else
				snprintf(out, len, "%s is not an endpoint address in any netns", la);
			break;
		}
		eps_list(t, &l->addr, NULL, list, sizeof(list));
		snprintf(out, len, "%s is not an endpoint of netns %s%s%s%s", la,
			 l->netns[0] ? l->netns : "(own)", list[0] ? " (it is " : "", list,
			 list[0] ? ": a socket elsewhere with that address is not it)" : "");
		break;
	case SHUNT_ST_TCP_NO_PEER:
		eps_list(t, &r->addr, NULL, list, sizeof(list));
		snprintf(out, len, "%s is not an endpoint of network %s%s%s%s", ra,
			 l->network[0] ? l->network : "?", list[0] ? " (it is " : "", list,
			 list[0] ? ")" : "");
		break;
	case SHUNT_ST_TCP_PEER_REMOTE:
		snprintf(out, len, "%s is endpoint %s, which is not in a netns of this host", ra,
			 r->endpoint[0] ? r->endpoint : "?");
		break;
	case SHUNT_ST_TCP_SAME_NETNS:
		snprintf(out, len, "%s and %s are both in netns %s: connections inside one partition stay on TCP",
			 la, ra, l->netns[0] ? l->netns : "(own)");
		break;
	case SHUNT_ST_TCP_MAP_FULL:
		snprintf(out, len, "the sockhash holds %d of %d sockets: no room for both ends",
			 e->sockets, e->max_sockets);
		break;
	default:
		out[0] = 0;
	}
}

/*
 * In the order things happen to a connection: sock_ops runs for the
 * connecting socket only if its cgroup is attached; then classify() (read
 * counter, pause, the two lookups); then both sockets must get into the
 * sockhash (room, the passive side's own classify, its cgroup), or the
 * first send finds the peer absent.  Unknown and partly attached sides
 * are taken as attached (said by the caller).
 */
static void verdict(struct shunt_explain *e, const struct ep_table *t,
		    const struct shunt_explain_query *q)
{
	bool src_off = e->src.cg_state == SHUNT_CG_NOT_ATTACHED;
	bool dst_off = e->dst.cg_state == SHUNT_CG_NOT_ATTACHED;
	char r[640];

	/* What the passive side counts, whatever the connecting one does. */
	e->passive = -1;
	if (e->reverse >= 0 && !dst_off) {
		e->passive = e->reverse;
		why(r, sizeof(r), e->reverse, e, &e->dst, &e->src, t, q);
		if (e->reverse != SHUNT_ST_MAX) {
			snprintf(e->passive_detail, sizeof(e->passive_detail),
				 "%scounts %s at its established callback (%s)",
				 e->dst.cg_state == SHUNT_CG_ATTACHED ? "" : "if attached, ",
				 shunt_stat_names[e->reverse], r);
		} else if (src_off || e->classify != SHUNT_ST_MAX) {
			/*
			 * Its peer made no connection word (the connecting
			 * end's callback runs first): on_established keeps
			 * the passive socket out of the sockhash.
			 */
			e->passive = SHUNT_ST_TCP_PEER_ABSENT;
			snprintf(e->passive_detail, sizeof(e->passive_detail),
				 "stays on TCP at its established callback, since the connecting socket made no connection word: it counts tcp_peer_absent");
		}
	} else if (dst_off) {
		snprintf(e->passive_detail, sizeof(e->passive_detail),
			 "counts nothing: its cgroup %s is not attached", cg_first(&e->dst, false));
	}

	if (src_off) {
		e->verdict = SHUNT_EXPLAIN_UNCOUNTED;
		snprintf(e->detail, sizeof(e->detail),
			 "the connecting side's cgroup %s is not attached: sock_ops never runs for its socket",
			 cg_first(&e->src, false));
		return;
	}
	if (e->classify != SHUNT_ST_MAX) {
		e->verdict = e->classify;
		why(e->detail, sizeof(e->detail), e->classify, e, &e->src, &e->dst, t, q);
		return;
	}
	if (e->max_sockets && e->max_sockets - e->sockets < 2) {
		e->verdict = SHUNT_ST_TCP_MAP_FULL;
		why(e->detail, sizeof(e->detail), SHUNT_ST_TCP_MAP_FULL, e, &e->src, &e->dst, t, q);
		return;
	}
	if (dst_off) {
		e->verdict = SHUNT_ST_TCP_PEER_ABSENT;
		snprintf(e->detail, sizeof(e->detail),
			 "the passive side's cgroup %s is not attached: its socket never enters the sockhash, so the connecting socket finds no peer at its first send",
			 cg_first(&e->dst, false));
		return;
	}
	if (!e->reverse_mirrors) {
		/* Only a table edited by hand gets here: the writer keeps
		 * (netns, address) unique and both maps in step. */
		e->verdict = SHUNT_ST_TCP_PEER_ABSENT;
		if (e->reverse_table != SHUNT_ST_MAX)
			snprintf(e->detail, sizeof(e->detail),
				 "the passive socket's own lookup gives %s, so it never enters the sockhash",
				 shunt_explain_reason(e->reverse_table));
		else
			snprintf(e->detail, sizeof(e->detail),
				 "the table is inconsistent: the passive socket's keys do not mirror the connecting socket's");
		return;
	}
	e->verdict = SHUNT_ST_CONN_REDIR;
	snprintf(e->detail, sizeof(e->detail), "endpoint %s to endpoint %s, network %s",
		 e->src.endpoint, e->dst.endpoint, e->src.network);
}

/* Another VM's endpoint: what the bridge's connect hook does with it. */
static void bridge_note(struct shunt_ctx *c, __u32 gen, const struct shunt_addr *dst,
			const struct ep_table *t, struct shunt_explain *e)
{
	struct shunt_br_dst_key k = { .gen = gen, .addr = *dst };
	const struct endpoint *ep;
	struct shunt_br_agent ag = {};
	struct shunt_br_dst_val v;
	char a[64];
	bool alive;

	if (e->note[0] || bpf_map_lookup_elem(c->br_dst_fd, &k, &v))
		return;
	ep = ep_by_id(t, v.ep_id);
	alive = shunt_br_agent_alive(c, &ag);
	addr_format(dst, a, sizeof(a));
	if (!v.ep_id)
		snprintf(e->note, sizeof(e->note),
			 "%s is an endpoint of other VMs in two networks: connect() is not steered to the bridge (fallback_ambiguous)", a);
	else if (alive)
		snprintf(e->note, sizeof(e->note),
			 "%s is endpoint %s of VM %s: connect() from the agent's netns in an attached cgroup is steered to the bridge agent (pid %u, 127.0.0.1:%u)",
			 a, ep ? ep->name : "?", ep ? ep->vm : "?", ag.pid, ag.port);
	else
		snprintf(e->note, sizeof(e->note),
			 "%s is endpoint %s of VM %s: no live bridge agent, so connect() is not steered and the VM's network carries it (fallback_no_agent)",
			 a, ep ? ep->name : "?", ep ? ep->vm : "?");
}

int shunt_explain(struct shunt_ctx *c, const struct shunt_explain_query *q,
		  struct shunt_explain *e)
{
	struct proc_list procs = {};
	struct shunt_cfg before, after;
	char mnt[PATH_MAX], buf[64], buf2[64];
	struct ep_table t = {};
	__u32 info_len;
	struct bpf_map_info info = {};
	__u64 rx;
	int err;

	memset(e, 0, sizeof(*e));
	if (q->src.family != q->dst.family) {
		addr_format(&q->src, buf, sizeof(buf));
		addr_format(&q->dst, buf2, sizeof(buf2));
		return shunt_set_error(EINVAL, "%s and %s are of different families: no TCP connection has such ends",
				       buf, buf2);
	}
	/* classify() reads the rx_hook its own object was loaded with. */
	e->rx_hook = pinned_rodata_u64(c->sockops_fd, "rx_hook", &rx) ? -1 : (int)rx;
	info_len = sizeof(info);
	if (!bpf_obj_get_info_by_fd(c->sockhash_fd, &info, &info_len))
		e->max_sockets = info.max_entries;
	e->sockets = count_sockets(c);

	/* Seqlock-style, as shunt_ep_read: the lookups and the names must come
	 * from one generation of the table. */
	for (int tries = 0;; tries++) {
		struct shunt_explain fresh = {
			.rx_hook = e->rx_hook, .sockets = e->sockets, .max_sockets = e->max_sockets,
		};

		if (tries == 100)
			return shunt_set_error(EAGAIN, "endpoint table kept changing while being read");
		err = shunt_get_cfg(c, &before);
		if (!err)
			err = shunt_ep_read(c, &t);
		if (err)
			return err;
		fresh.src.addr = q->src;
		fresh.src.port = q->src_port;
		fresh.dst.addr = q->dst;
		fresh.dst.port = q->dst_port;
		err = explain_gen(c, &before, &t, q, &fresh);
		if (!shunt_get_cfg(c, &after) && after.seq == before.seq && after.gen == before.gen) {
			*e = fresh;
			break;
		}
		ep_table_free(&t);
		usleep(1000);
	}
	if (err)
		goto out;
	if (q->network && e->src.has_ep && strcmp(e->src.network, q->network)) {
		addr_format(&q->src, buf, sizeof(buf));
		snprintf(e->note, sizeof(e->note),
			 "%s in that netns is endpoint %s of network %s, not of network %s: the netns decides",
			 buf, e->src.endpoint, e->src.network, q->network);
	}

	err = procs_scan(&procs);
	if (err)
		goto out;
	shunt_cgroup2_mount(mnt, sizeof(mnt));
	side_cgroups(c, &e->src, &procs, mnt);
	side_cgroups(c, &e->dst, &procs, mnt);
	verdict(e, &t, q);
	bridge_note(c, before.gen, &q->dst, &t, e);
out:
	free(procs.p);
	ep_table_free(&t);
	return err;
}

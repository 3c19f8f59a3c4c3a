// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `shunt discover`: the host's network namespaces as endpoints.
 *
 * Four passes.  Find every netns (named ones under /run/netns and
 * /var/run/netns, then each process's), one per nsfs inode, keeping an fd
 * on each so none can vanish halfway.  Enter each once, just long enough to
 * read its cookie and open a netlink socket there (a socket stays in the
 * netns it was made in), then dump its links and addresses over that
 * socket from outside.  Resolve where each interface leads: a veth's peer
 * is IFLA_LINK in the netns IFLA_LINK_NETNSID names, and the peer's master
 * (a bridge) names the network.  Last, group each netns' addresses by
 * network into endpoint rows.
 *
 * An nsid is only meaningful inside the netns that reported it, so a peer
 * is found by its ifindex among all namespaces read and then confirmed by
 * asking that netns (RTM_GETNSID with the candidate's fd) which nsid it
 * gives the candidate: ifindexes repeat across namespaces (every `ip netns
 * add` starts again at 1), nsids do not within one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "discover.h"
#include "internal.h"
#include "log.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct dlink {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[24];			/* IFLA_INFO_KIND: "veth", "bridge", ... */
	__u8 mac[6];
	bool has_mac, loopback;
	int link;			/* IFLA_LINK: veth peer, macvlan parent; 0: none */
	int link_nsid;			/* IFLA_LINK_NETNSID; -1: the same netns */
	int master;			/* IFLA_MASTER; 0: none */
	int naddrs, extra;		/* extra: addresses beyond addrs[] */
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	char network[SHUNT_NET_MAX];	/* where it leads; "": nowhere known */
};

struct dns {
	dev_t dev;
	ino_t ino;
	int fd;				/* the netns, open until the end */
	bool root, readable;
	char named[NAME_MAX + 1];	/* its `ip netns` name, the smallest if several */
	char named_path[PATH_MAX];
	int pid;			/* lowest pid in it; 0: none */
	char container[SHUNT_NAME_MAX + 1];	/* runtime id whose init lives in it */
	int cpid;
	unsigned long long cstart;
	char name[SHUNT_NAME_MAX + 1];	/* the endpoint name */
	char netns[SHUNT_NETNS_MAX];	/* the endpoint's netns field */
	__u64 cookie;
	struct mnl_socket *nl;		/* a netlink socket inside it */
	struct dlink *links;
	int nlinks, cap;
};

struct dctx {
	struct dns *ns;
	int n, cap;
	dev_t nsfs_dev;
	struct stat root;
	bool root_known;
	int denied, emfile;
	int hidden;			/* processes whose netns link we may not open */
};

/* --- names ---------------------------------------------------------- */

/*
 * Endpoint and network names allow letters, digits, '.', '_' and '-' up to
 * a length; interface and netns names allow more.  A name that does not fit
 * is cut and gets a hash of the whole, so that it stays the same from run
 * to run and two long names that share a prefix stay apart.
 */
static void ident_fit(char *out, size_t max, const char *in)
{
	size_t n = strlen(in), k = 0;
	bool changed = n > max;
	__u32 h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)in[i]) * 16777619u;
	for (size_t i = 0; i < n && k < max; i++) {
		char c = in[i];

		if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-') {
			c = '_';
			changed = true;
		}
		out[k++] = c;
	}
	if (!changed) {
		out[k] = 0;
		return;
	}
	if (k > max - 9)
		k = max - 9;
	snprintf(out + k, 10, "-%08x", h);
}

/* --- finding the namespaces ----------------------------------------- */

static struct dns *ns_find(struct dctx *d, const struct stat *st)
{
	for (int i = 0; i < d->n; i++)
		if (d->ns[i].ino == st->st_ino && d->ns[i].dev == st->st_dev)
			return &d->ns[i];
	return NULL;
}

/*
 * Opens @path and returns its netns entry, a new one if it is new (NULL
 * with *err set on failure).  The inode comes from the open fd, not from
 * the path, so a process that moved meanwhile is counted where it is.
 */
static struct dns *ns_open(struct dctx *d, const char *path, bool proc, int *err)
{
	struct dns *n;
	struct stat st;
	int fd;

	*err = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		if (errno == EMFILE || errno == ENFILE)
			d->emfile++;
		else if ((errno == EACCES || errno == EPERM) && proc)
			d->hidden++;	/* not dumpable: ptrace rules, even for root */
		else if (errno == EACCES || errno == EPERM)
			d->denied++;
		return NULL;
	}
	if (fstat(fd, &st) || st.st_dev != d->nsfs_dev) {
		*err = EINVAL;	/* an `ip netns` file whose mount is gone */
		close(fd);
		return NULL;
	}
	n = ns_find(d, &st);
	if (n) {
		close(fd);
		return n;
	}
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 32;
		struct dns *ns = realloc(d->ns, cap * sizeof(*ns));

		if (!ns) {
			close(fd);
			*err = ENOMEM;
			return NULL;
		}
		d->ns = ns;
		d->cap = cap;
	}
	n = &d->ns[d->n++];
	memset(n, 0, sizeof(*n));
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	n->fd = fd;
	n->root = d->root_known && st.st_ino == d->root.st_ino && st.st_dev == d->root.st_dev;
	return n;
}

static void find_named(struct dctx *d, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct dns *n;
	DIR *dh;
	int err;

	dh = opendir(dir);
	if (!dh)
		return;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		n = ns_open(d, path, false, &err);
		if (!n || (n->named[0] && strcmp(de->d_name, n->named) >= 0))
			continue;
		snprintf(n->named, sizeof(n->named), "%s", de->d_name);
		snprintf(n->named_path, sizeof(n->named_path), "%s", path);
	}
	closedir(dh);
}

static void find_processes(struct dctx *d)
{
	char path[64];
	struct dirent *de;
	struct dns *n;
	DIR *dh;
	int err, pid;

	dh = opendir("/proc");
	if (!dh)
		return;
	while ((de = readdir(dh))) {
		char *end;

		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		/* ENOENT, ESRCH: the process exited meanwhile; skip it. */
		n = ns_open(d, path, true, &err);
		if (n && (!n->pid || pid < n->pid))
			n->pid = pid;
	}
	closedir(dh);
}

/* Field 22 of /proc/PID/stat, the start time runc records; 0 if unknown. */
static unsigned long long proc_start(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	p = strrchr(buf, ')');	/* the command may hold spaces and ')' */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

static unsigned long long json_u64(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 10);
	return (unsigned long long)json_object_get_int64(v);
}

/*
 * A runc state (runc itself, podman and docker with runc, containerd's
 * shim): DIR/ID/state.json names the container's init pid and its start
 * time.  If that process still is that init (same start time: no pid
 * reuse) and its netns has no `ip netns` name, the container id names the
 * netns.  Several containers in one netns (a pod): the one started first,
 * the pod's sandbox.
 */
static void runc_state(struct dctx *d, const char *dir, const char *id)
{
	char path[PATH_MAX];
	unsigned long long start, now;
	json_object *st;
	struct stat ns;
	struct dns *n;
	int pid;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/state.json", dir, id) >= sizeof(path))
		return;
	st = json_object_from_file(path);
	if (!st)
		return;
	pid = (int)json_u64(st, "init_process_pid");
	start = json_u64(st, "init_process_start");
	json_object_put(st);
	if (pid <= 0)
		return;
	now = proc_start(pid);
	if (!now || (start && now != start))
		return;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &ns) || !(n = ns_find(d, &ns)) || n->named[0] || n->root)
		return;
	if (n->container[0] && (now > n->cstart || (now == n->cstart && strcmp(id, n->container) >= 0)))
		return;
	ident_fit(n->container, SHUNT_NAME_MAX, id);
	n->cpid = pid;
	n->cstart = now;
}

static void runc_root(struct dctx *d, const char *dir, int depth)
{
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *dh = opendir(dir);

	while (dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if (depth > 0 && (size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) < sizeof(sub))
			runc_root(d, sub, depth - 1);
		else if (!depth)
			runc_state(d, dir, de->d_name);
	}
	if (dh)
		closedir(dh);
}

static void find_containers(struct dctx *d)
{
	runc_root(d, "/run/runc", 0);
	runc_root(d, "/run/docker/runtime-runc", 1);	/* DIR/moby/ID */
	runc_root(d, "/run/containerd/runc", 1);	/* DIR/k8s.io/ID */
}

/*
 * Stable names: the `ip netns` name; else the container whose init lives
 * there; else the netns inode, which stays while the netns lives.  Never a
 * pid: pids move on.  The netns field is what finds it again: the name
 * (resolved under /var/run/netns) or a path.
 */
static void ns_name(struct dns *n)
{
	char raw[PATH_MAX];
	struct stat st;

	if (n->named[0]) {
		ident_fit(n->name, SHUNT_NAME_MAX, n->named);
		snprintf(raw, sizeof(raw), "/var/run/netns/%s", n->named);
		if (strlen(n->named) < sizeof(n->netns) && !stat(raw, &st) &&
		    st.st_ino == n->ino && st.st_dev == n->dev)
			snprintf(n->netns, sizeof(n->netns), "%s", n->named);
		else if (strlen(n->named_path) < sizeof(n->netns))
			snprintf(n->netns, sizeof(n->netns), "%s", n->named_path);
		else if (n->pid)
			snprintf(n->netns, sizeof(n->netns), "/proc/%d/ns/net", n->pid);
		return;
	}
	if (n->container[0]) {
		snprintf(n->name, sizeof(n->name), "%s", n->container);
		snprintf(n->netns, sizeof(n->netns), "/proc/%d/ns/net", n->cpid);
		return;
	}
	snprintf(n->name, sizeof(n->name), "netns-%llu", (unsigned long long)n->ino);
	snprintf(n->netns, sizeof(n->netns), "/proc/%d/ns/net", n->pid);
}

/* --- reading one netns over rtnetlink ------------------------------- */


struct link_attrs {
	const struct nlattr *tb[IFLA_MAX + 1];
};

static int link_attr(const struct nlattr *attr, void *data)
{
	struct link_attrs *a = data;

	if (mnl_attr_type_valid(attr, IFLA_MAX) >= 0)
		a->tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int info_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFLA_INFO_MAX) >= 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *info[IFLA_INFO_MAX + 1] = {};
	struct link_attrs a = {};
	struct dns *n = data;
	struct dlink *l;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, &a);
	if (n->nlinks == n->cap) {
		int cap = n->cap ? 2 * n->cap : 8;
		struct dlink *links = realloc(n->links, cap * sizeof(*links));

		if (!links) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		n->links = links;
		n->cap = cap;
	}
	l = &n->links[n->nlinks++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->loopback = ifi->ifi_flags & IFF_LOOPBACK;
	l->link_nsid = -1;
	if (a.tb[IFLA_IFNAME])
		snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a.tb[IFLA_IFNAME]));
	else
		snprintf(l->name, sizeof(l->name), "if%d", l->ifindex);
	if (a.tb[IFLA_ADDRESS] && ifi->ifi_type == ARPHRD_ETHER &&
	    mnl_attr_get_payload_len(a.tb[IFLA_ADDRESS]) == 6) {
		static const __u8 zero[6];

		memcpy(l->mac, mnl_attr_get_payload(a.tb[IFLA_ADDRESS]), 6);
		l->has_mac = memcmp(l->mac, zero, 6) != 0;
	}
	if (a.tb[IFLA_LINK_NETNSID])
		l->link_nsid = (int)mnl_attr_get_u32(a.tb[IFLA_LINK_NETNSID]);
	/* A peer in another netns may well have our ifindex (both 2). */
	if (a.tb[IFLA_LINK] && ((int)mnl_attr_get_u32(a.tb[IFLA_LINK]) != l->ifindex ||
				l->link_nsid >= 0))
		l->link = mnl_attr_get_u32(a.tb[IFLA_LINK]);
	if (a.tb[IFLA_MASTER])
		l->master = mnl_attr_get_u32(a.tb[IFLA_MASTER]);
	if (a.tb[IFLA_LINKINFO] &&
	    mnl_attr_parse_nested(a.tb[IFLA_LINKINFO], info_attr, info) >= 0 &&
	    info[IFLA_INFO_KIND])
		snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
	return MNL_CB_OK;
}

static struct dlink *link_by_index(struct dns *n, int ifindex)
{
	for (int i = 0; i < n->nlinks; i++)
		if (n->links[i].ifindex == ifindex)
			return &n->links[i];
	return NULL;
}

/* The same choice as shunt_netns_addrs() (shunt_ifaddr), per interface. */
static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dns *n = data;
	struct shunt_addr a;
	struct dlink *l;
	int ifindex;

	if (!shunt_ifaddr(nlh, &a, &ifindex))
		return MNL_CB_OK;
	l = link_by_index(n, ifindex);
	if (!l || l->loopback)
		return MNL_CB_OK;	/* a link newer than the link dump */
	for (int i = 0; i < l->naddrs; i++)
		if (addr_equal(&l->addrs[i], &a))
			return MNL_CB_OK;
	if (l->naddrs < SHUNT_MAX_ADDRS)
		l->addrs[l->naddrs++] = a;
	else
		l->extra++;
	return MNL_CB_OK;
}

static int dump_links(struct dns *n)
{
	char req[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	n->nlinks = 0;
	return shunt_nl_dump(n->nl, nlh, link_cb, n);
}

static int dump_addrs(struct dns *n)
{
	char req[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	for (int i = 0; i < n->nlinks; i++)
		n->links[i].naddrs = n->links[i].extra = 0;
	return shunt_nl_dump(n->nl, nlh, addr_cb, n);
}

static int nsid_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NETNSA_MAX) >= 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NETNSA_MAX + 1] = {};
	int *nsid = data;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nsid_attr, tb);
	if (tb[NETNSA_NSID])
		*nsid = (int)mnl_attr_get_u32(tb[NETNSA_NSID]);
	return MNL_CB_STOP;
}

/* The nsid netns @n gives the netns @fd refers to; -1 if none. */
static int nsid_of(struct dns *n, int fd)
{
	char req[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct rtgenmsg *rt;
	int nsid = -1;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = time(NULL);
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, fd);
	if (shunt_nl_dump(n->nl, nlh, nsid_cb, &nsid))
		return -1;
	return nsid;
}

/*
 * One setns() in and out per netns: the cookie (SO_NETNS_COOKIE, what BPF
 * sees) and a netlink socket are made inside; everything else is read
 * through that socket from our own netns.
 */
static int ns_read(struct dns *n, int self)
{
	socklen_t len = sizeof(n->cookie);
	int sock, err = 0, tries;

	if (setns(n->fd, CLONE_NEWNET))
		return -errno;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &n->cookie, &len))
		err = -errno;
	if (sock >= 0)
		close(sock);
	if (!err) {
		n->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
		if (!n->nl || mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
			err = -errno;
	}
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot happen for our own netns; never go on in the wrong one. */
		fprintf(stderr, "shunt: cannot return to own netns: %s\n", strerror(errno));
		abort();
	}
	if (err)
		return err;
	for (tries = 0; tries < 5; tries++) {
		err = dump_links(n);
		if (!err && !n->root)
			err = dump_addrs(n);
		if (err != -EINTR)
			break;
	}
	return err;
}

/* --- where links lead ----------------------------------------------- */

/*
 * The interface @l of @n leads to @peer in the returned netns: a veth's
 * other end, a macvlan's or ipvlan's parent.  NULL if it leads nowhere
 * known (no link, or a netns we did not find).
 */
static struct dns *link_peer(struct dctx *d, struct dns *n, const struct dlink *l,
			     struct dlink **peer)
{
	bool veth = !strcmp(l->kind, "veth");

	*peer = NULL;
	if (!l->link)
		return NULL;
	if (l->link_nsid < 0) {
		*peer = link_by_index(n, l->link);
		return *peer ? n : NULL;
	}
	for (int i = 0; i < d->n; i++) {
		struct dns *m = &d->ns[i];
		struct dlink *p;

		if (m == n || !m->readable || !(p = link_by_index(m, l->link)))
			continue;
		if (veth && (strcmp(p->kind, "veth") || p->link != l->ifindex))
			continue;
		if (nsid_of(n, m->fd) != l->link_nsid) {
			pr_debug("discover: %s/%s: %s/%s has nsid %d, not %d\n", n->name, l->name,
				 m->name, p->name, nsid_of(n, m->fd), l->link_nsid);
			continue;
		}
		*peer = p;
		return m;
	}
	return NULL;
}

/* An interface of netns @m as a network name: bare in the host. */
static void qualified(char *out, size_t len, const struct dns *m, const char *ifname)
{
	if (m->root)
		snprintf(out, len, "%s", ifname);
	else
		snprintf(out, len, "%s-%s", m->name, ifname);
}

/*
 * The network an interface is on: its peer's bridge (any master: a VRF
 * too); a veth pair between two partitions without a bridge: both names,
 * sorted, so both ends agree; else the peer itself (a host-side veth, a
 * macvlan's parent).  Open vSwitch ports all have the master
 * "ovs-system", which says nothing about their bridge: the port then.
 * Overlapping address plans on different bridges so never share a network.
 */
static void link_network(struct dctx *d, struct dns *n, struct dlink *l)
{
	char raw[2 * SHUNT_NAME_MAX + IFNAMSIZ + 4];
	struct dlink *p, *b;
	struct dns *m;

	m = link_peer(d, n, l, &p);
	if (!m || m == n)
		return;
	if (p->master && (b = link_by_index(m, p->master)) && strcmp(b->kind, "openvswitch"))
		qualified(raw, sizeof(raw), m, b->name);
	else if (!strcmp(l->kind, "veth") && !m->root)
		snprintf(raw, sizeof(raw), "%s-%s", strcmp(n->name, m->name) < 0 ? n->name : m->name,
			 strcmp(n->name, m->name) < 0 ? m->name : n->name);
	else
		qualified(raw, sizeof(raw), m, p->name);
	ident_fit(l->network, SHUNT_NET_MAX - 1, raw);
}

/* --- rows ------------------------------------------------------------ */

static int row_new(struct discover_result *r, int *cap, struct discover_row **row)
{
	if (r->n == *cap) {
		int c = *cap ? 2 * *cap : 32;
		struct discover_row *rows = realloc(r->rows, c * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		r->rows = rows;
		*cap = c;
	}
	*row = &r->rows[r->n++];
	memset(*row, 0, sizeof(**row));
	return 0;
}

static void row_iface(struct discover_row *row, const char *ifname)
{
	size_t len = strlen(row->ifaces);

	snprintf(row->ifaces + len, sizeof(row->ifaces) - len, "%s%s", len ? "," : "", ifname);
}

/*
 * A netns becomes one row per network its addresses are on (one, nearly
 * always: named after the netns; several: "<netns>-<ifname>").
 * Interfaces that lead nowhere (dummy, a tunnel) go with the netns' first
 * linked interface; a netns with no link at all is a network of its own.
 */
static int ns_rows(struct dns *n, const char *network, struct discover_result *r, int *cap)
{
	char nets[16][SHUNT_NET_MAX], primary[SHUNT_NET_MAX] = "", raw[SHUNT_NAME_MAX + IFNAMSIZ + 2];
	struct shunt_addr seen[64];
	int nnets = 0, nseen = 0, err;

	for (int i = 0; i < n->nlinks && !primary[0]; i++)
		if (n->links[i].network[0] && n->links[i].naddrs)
			snprintf(primary, sizeof(primary), "%s", n->links[i].network);
	for (int i = 0; i < n->nlinks && !primary[0]; i++)
		if (n->links[i].network[0])
			snprintf(primary, sizeof(primary), "%s", n->links[i].network);
	if (!primary[0])
		ident_fit(primary, SHUNT_NET_MAX - 1, n->name);
	if (network)
		snprintf(primary, sizeof(primary), "%s", network);
	for (int i = 0; i < n->nlinks; i++) {
		struct dlink *l = &n->links[i];
		int k;

		if (l->loopback)
			continue;
		if (network || !l->network[0])
			snprintf(l->network, sizeof(l->network), "%s", primary);
		if (!l->naddrs)
			continue;
		for (k = 0; k < nnets && strcmp(nets[k], l->network); k++)
			;
		if (k < nnets)
			continue;
		if (nnets == 16) {
			pr_warn("netns %s: %s is on a 17th network: left out\n", n->netns, l->name);
			l->naddrs = 0;
			continue;
		}
		snprintf(nets[nnets++], sizeof(nets[0]), "%s", l->network);
	}
	if (!nnets)	/* no address: a row for the table view only */
		snprintf(nets[nnets++], sizeof(nets[0]), "%s", primary);
	for (int g = 0; g < nnets; g++) {
		struct discover_row *row;
		struct endpoint *ep;

		err = row_new(r, cap, &row);
		if (err)
			return err;
		ep = &row->ep;
		snprintf(ep->network, sizeof(ep->network), "%s", nets[g]);
		snprintf(ep->netns, sizeof(ep->netns), "%s", n->netns);
		ep->netns_cookie = n->cookie;
		snprintf(ep->name, sizeof(ep->name), "%s", n->name);
		for (int i = 0; i < n->nlinks; i++) {
			struct dlink *l = &n->links[i];

			/* One row lists every interface; several, their own. */
			if (l->loopback || (nnets > 1 && (!l->naddrs || strcmp(l->network, nets[g]))))
				continue;
			if (nnets > 1 && !row->ifaces[0]) {
				snprintf(raw, sizeof(raw), "%s-%s", n->name, l->name);
				ident_fit(ep->name, SHUNT_NAME_MAX, raw);
			}
			row_iface(row, l->name);
			if (l->naddrs && l->has_mac && !ep->has_mac) {
				memcpy(ep->mac, l->mac, 6);
				ep->has_mac = true;
			}
			row->dropped += l->extra;
			for (int a = 0; a < l->naddrs; a++) {
				int s;

				/* One netns, one endpoint per address (shunt_ep_write). */
				for (s = 0; s < nseen && !addr_equal(&seen[s], &l->addrs[a]); s++)
					;
				if (s < nseen)
					continue;
				if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
					seen[nseen++] = l->addrs[a];
				if (ep->naddrs < SHUNT_MAX_ADDRS)
					ep->addrs[ep->naddrs++] = l->addrs[a];
				else
					row->dropped++;
			}
		}
		if (row->dropped)
			pr_warn("netns %s: endpoint \"%s\" has %d addresses, at most %d: the first %d kept\n",
				n->netns, ep->name, ep->naddrs + row->dropped, SHUNT_MAX_ADDRS,
				SHUNT_MAX_ADDRS);
	}
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct discover_row *x = a, *y = b;

	return strcmp(x->ep.name, y->ep.name);
}

static int cmp_link(const void *a, const void *b)
{
	const struct dlink *x = a, *y = b;

	return x->ifindex - y->ifindex;
}

/* Many namespaces, two fds each (the netns and its netlink socket). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void dctx_free(struct dctx *d)
{
	for (int i = 0; i < d->n; i++) {
		if (d->ns[i].nl)
			mnl_socket_close(d->ns[i].nl);
		close(d->ns[i].fd);
		free(d->ns[i].links);
	}
	free(d->ns);
}

int shunt_discover(const char *network, struct discover_result *r, struct ep_table *t)
{
	struct dctx d = {};
	struct stat st;
	int self = -1, err = 0, cap = 0, readable = 0;

	memset(r, 0, sizeof(*r));
	memset(t, 0, sizeof(*t));
	raise_nofile();
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &st)) {
		err = shunt_set_error(errno, "/proc/self/ns/net: %s", strerror(errno));
		goto out;
	}
	d.nsfs_dev = st.st_dev;
	/* The root netns is init's (the host); ours if init's is hidden. */
	d.root_known = !stat("/proc/1/ns/net", &d.root);
	if (!d.root_known) {
		d.root = st;
		d.root_known = true;
	}
	find_named(&d, "/run/netns");
	find_named(&d, "/var/run/netns");
	find_processes(&d);
	find_containers(&d);
	if (d.emfile)
		pr_warn("%d netns not opened: too many open files (raise the limit: ulimit -n)\n",
			d.emfile);
	for (int i = 0; i < d.n; i++)
		ns_name(&d.ns[i]);
	for (int i = 0; i < d.n; i++) {
		struct dns *n = &d.ns[i];
		int e = ns_read(n, self);

		if (e == -ENOMEM) {
			err = shunt_set_error(ENOMEM, "out of memory");
			goto out;
		}
		if (e == -EPERM || e == -EACCES)
			d.denied++;
		if (e) {
			if (e != -EPERM && e != -EACCES)
				pr_warn("netns %s: %s\n", n->netns[0] ? n->netns : n->name, strerror(-e));
			continue;
		}
		n->readable = true;
		readable++;
		qsort(n->links, n->nlinks, sizeof(*n->links), cmp_link);
	}
	r->denied = d.denied;
	if (d.hidden)
		pr_debug("%d processes' netns not opened: permission denied\n", d.hidden);
	if (d.denied && !readable) {
		err = shunt_set_error(EPERM, "cannot enter network namespaces (setns: %s): run as root",
				      strerror(EPERM));
		goto out;
	}
	if (d.denied)
		pr_warn("%d netns could not be read: permission denied (run as root)\n", d.denied);
	for (int i = 0; i < d.n; i++) {
		struct dns *n = &d.ns[i];

		if (n->root || !n->readable)
			continue;
		for (int j = 0; j < n->nlinks; j++)
			if (!n->links[j].loopback)
				link_network(&d, n, &n->links[j]);
	}
	for (int i = 0; i < d.n && !err; i++)
		if (!d.ns[i].root && d.ns[i].readable)
			err = ns_rows(&d.ns[i], network, r, &cap);
	if (err) {
		err = shunt_set_error(-err, "out of memory");
		goto out;
	}
	qsort(r->rows, r->n, sizeof(*r->rows), cmp_row);
	for (int i = 0; i < r->n; i++) {
		struct discover_row *row = &r->rows[i];

		if (!row->ep.naddrs) {
			row->left_out = true;
			pr_warn("netns %s (%s) has no address: left out of the endpoint file\n",
				row->ep.netns, row->ep.name);
			continue;
		}
		err = ep_table_add(t, &row->ep);
		if (err == -ENOMEM || err == -E2BIG)
			goto out;
		if (err) {
			row->left_out = true;
			pr_warn("netns %s: endpoint \"%s\" left out: %s\n", row->ep.netns,
				row->ep.name, shunt_strerror());
			err = 0;
		}
	}
out:
	dctx_free(&d);
	if (self >= 0)
		close(self);
	if (err) {
		shunt_discover_free(r);
		ep_table_free(t);
	}
	return err;
}

void shunt_discover_free(struct discover_result *r)
{
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

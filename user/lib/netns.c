// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Network namespaces: the cookie BPF sees for a netns path or name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "internal.h"
#include "log.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* A netns as the user gives it: "" (own), a path, or an `ip netns` name. */
void shunt_netns_path(const char *netns, char *path, size_t len)
{
	if (!netns[0])
		snprintf(path, len, "/proc/self/ns/net");
	else if (strchr(netns, '/'))
		snprintf(path, len, "%s", netns);
	else
		snprintf(path, len, "/var/run/netns/%s", netns);
}

/*
 * Moves this thread into @netns until netns_leave(); returns the fd of the
 * netns to come back to, or -errno.  @path gets the netns path used.
 */
static int netns_enter(const char *netns, char *path, size_t len)
{
	int self, target, err = 0;

	shunt_netns_path(netns, path, len);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(target, CLONE_NEWNET)) {
		err = shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
		if (self >= 0)
			close(self);
	}
	close(target);
	return err ?: self;
}

static void netns_leave(int self)
{
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot happen for our own netns; never continue in the wrong one. */
		fprintf(stderr, "shunt: cannot return to own netns: %s\n", strerror(errno));
		abort();
	}
	close(self);
}

/*
 * The netns cookie is what BPF sees (bpf_get_netns_cookie); read it with
 * SO_NETNS_COOKIE on a socket made inside the namespace.
 */
int shunt_netns_cookie(const char *netns, __u64 *cookie)
{
	char path[PATH_MAX];
	socklen_t len = sizeof(*cookie);
	int self, sock, err = 0;

	self = netns_enter(netns, path, sizeof(path));
	if (self < 0)
		return self;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = shunt_set_error(errno, "netns cookie of %s: %s (kernel >= 5.14 needed)", path, strerror(errno));
	if (sock >= 0)
		close(sock);
	netns_leave(self);
	return err;
}

bool shunt_netns_alive(const char *netns, __u64 cookie)
{
	__u64 now = 0;

	/* "" is the caller's own netns: alive as long as we are. */
	if (!netns[0])
		return true;
	return !shunt_netns_cookie(netns, &now) && now == cookie;
}

/* A bind mount of @ino under @dir (ip netns, podman): its path. */
static bool named_netns(const char *dir, const struct stat *ns, char *out, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!stat(path, &st) && st.st_ino == ns->st_ino && st.st_dev == ns->st_dev &&
		    (size_t)snprintf(out, len, "%s", path) < len)
			found = true;
	}
	if (d)
		closedir(d);
	return found;
}

int shunt_netns_of_pid(int pid, char *path, size_t len, __u64 *cookie)
{
	char proc[64];
	struct stat ns;

	snprintf(proc, sizeof(proc), "/proc/%d/ns/net", pid);
	if (stat(proc, &ns))
		return shunt_set_error(errno == ENOENT ? ESRCH : errno, "process %d: %s", pid,
				       errno == ENOENT ? "no such process" : strerror(errno));
	if (!named_netns("/run/netns", &ns, path, len) &&
	    !named_netns("/var/run/netns", &ns, path, len))
		snprintf(path, len, "%s", proc);
	return shunt_netns_cookie(path, cookie);
}

/* --- addresses over rtnetlink (libmnl) ------------------------------ */

struct addr_walk {
	struct shunt_addr *out;
	int max, n;
	bool full;
};

static int addr_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFA_MAX) >= 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/*
 * The address an RTM_NEWADDR message names, if an endpoint should have it:
 * IPv4 or IPv6, not loopback (scope host, 127/8), not link-local, not an
 * IPv6 address whose duplicate address detection failed.  1 and *out
 * filled (*ifindex its interface), or 0: skip it.
 */
int shunt_ifaddr(const struct nlmsghdr *nlh, struct shunt_addr *out, int *ifindex)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = {};
	__u32 flags;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	if (ifa->ifa_scope == RT_SCOPE_HOST || ifa->ifa_scope == RT_SCOPE_LINK)
		return 0;	/* loopback, link-local */
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb);
	flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	if (flags & IFA_F_DADFAILED)
		return 0;
	/* IFA_LOCAL is the interface's own address on point-to-point links. */
	if (!tb[IFA_LOCAL] && !tb[IFA_ADDRESS])
		return 0;
	shunt_addr_set(out, ifa->ifa_family == AF_INET6,
		       mnl_attr_get_payload(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]));
	if (out->family == SHUNT_AF_INET && (ntohl(out->a[0]) >> 24) == 127)
		return 0;
	*ifindex = ifa->ifa_index;
	return 1;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_walk *w = data;
	struct shunt_addr a;
	int ifindex;

	if (!shunt_ifaddr(nlh, &a, &ifindex))
		return MNL_CB_OK;
	for (int i = 0; i < w->n; i++)
		if (!memcmp(&w->out[i], &a, sizeof(a)))
			return MNL_CB_OK;
	if (w->n >= w->max) {
		w->full = true;
		return MNL_CB_OK;
	}
	w->out[w->n++] = a;
	return MNL_CB_OK;
}

/*
 * Sends @req (a dump) on @nl and runs @cb on every answer: 0 or -errno.  A
 * dump the kernel marks interrupted (a change raced it) returns -EINTR;
 * the caller may run it again.
 */
#define NL_BUF (64 * 1024)

int shunt_nl_dump(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	unsigned int portid = mnl_socket_get_portid(nl);
	char *buf;
	int ret, err = 0;

	buf = malloc(NL_BUF);
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	while ((ret = mnl_socket_recvfrom(nl, buf, NL_BUF)) > 0) {
		ret = mnl_cb_run(buf, ret, req->nlmsg_seq, portid, cb, data);
		if (ret <= 0)
			break;
	}
	if (ret < 0)
		err = -errno;
out:
	free(buf);
	return err;
}

static int dump_addrs(struct addr_walk *w)
{
	char req[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct mnl_socket *nl;
	struct rtgenmsg *rt;
	int err;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = shunt_set_error(errno, "netlink: %s", strerror(errno));
		goto out;
	}
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = time(NULL);
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	err = shunt_nl_dump(nl, nlh, addr_cb, w);
	if (err)
		err = shunt_set_error(err, "netlink address dump: %s", strerror(-err));
out:
	if (nl)
		mnl_socket_close(nl);
	return err;
}

/* Enters @netns for the dump only, as shunt_netns_cookie does. */
int shunt_netns_addrs(const char *netns, struct shunt_addr *out, int max, int *n)
{
	struct addr_walk w = { .out = out, .max = max };
	char path[PATH_MAX];
	int self, err;

	self = netns_enter(netns, path, sizeof(path));
	if (self < 0)
		return self;
	err = dump_addrs(&w);
	netns_leave(self);
	*n = w.n;
	if (!err && w.full)
		pr_warn("netns %s has more than %d addresses; registering the first %d\n",
			path, max, max);
	return err;
}

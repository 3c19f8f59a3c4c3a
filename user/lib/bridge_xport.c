// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bridge's transports: AF_VSOCK, and Unix sockets (plain, or behind
 * Firecracker's and Cloud Hypervisor's hybrid vsock: "CONNECT <port>\n",
 * "OK <assigned port>\n"; firecracker docs/vsock.md).  Never dials a real
 * CID in tests: those use unix:, and a fake VMM for hybrid:.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include "bridge.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline (ms, CLOCK_MONOTONIC; <0: none). */
static int wait_until(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int left = deadline < 0 ? -1 : (int)(deadline - now_ms());
		int n;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static long long deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

int shunt_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	long long deadline = deadline_of(timeout_ms);
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		int err;

		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_until(fd, POLLIN, deadline);
		if (err)
			return err;
	}
	return 0;
}

int shunt_write_full(int fd, const void *buf, size_t len, int timeout_ms)
{
	long long deadline = deadline_of(timeout_ms);
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_DONTWAIT | MSG_NOSIGNAL);
		int err;

		if (n >= 0) {
			put += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_until(fd, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A connect with a timeout; the fd comes back blocking.  AF_UNIX differs:
 * a non-blocking connect to a listener whose backlog is full fails with
 * EAGAIN and connects nothing (it is not "in progress"), so it connects
 * blocking, bounded by SO_SNDTIMEO, which unix_stream_connect waits with.
 */
static int dial(int family, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fd, err = 0, fl;
	socklen_t elen = sizeof(err);

	if (family == AF_UNIX) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 }, none = { 0 };

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, sa, len)) {
			err = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
			close(fd);
			return err;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		return fd;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len)) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		err = wait_until(fd, POLLOUT, deadline_of(timeout_ms));
		if (err)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
			err = -(err ? err : errno);
			goto fail;
		}
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return err;
}

static int unix_addr(struct sockaddr_un *sun, const char *path, __u32 port, bool suffix)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((suffix ? snprintf(sun->sun_path, sizeof(sun->sun_path), "%s_%u", path, port) :
		      snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path)) >= (int)sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static void vsock_addr(struct sockaddr_vm *svm, __u32 cid, __u32 port)
{
	memset(svm, 0, sizeof(*svm));
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = cid;
	svm->svm_port = port;
}

static int listen_on(int family, struct sockaddr *sa, socklen_t len)
{
	int fd, one = 1, err;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_UNIX)
		unlink(((struct sockaddr_un *)sa)->sun_path);	/* a stale one from a killed run */
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) || listen(fd, SOMAXCONN)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The two ends of a transport.  vsock: port @port at CID ANY (listen) or
 * x->cid (dial).  Unix and hybrid: the guest side is PATH itself, the
 * host side PATH_<port> (Firecracker's naming for guest-initiated ones).
 */
static int xport_listen(const struct shunt_xport *x, __u32 port, bool host_side)
{
	struct sockaddr_vm svm;
	struct sockaddr_un sun;

	if (x->kind == SHUNT_XP_VSOCK) {
		vsock_addr(&svm, VMADDR_CID_ANY, port);
		return listen_on(AF_VSOCK, (struct sockaddr *)&svm, sizeof(svm));
	}
	if (unix_addr(&sun, x->path, port, host_side))
		return -ENAMETOOLONG;
	return listen_on(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun));
}

static int xport_dial(const struct shunt_xport *x, __u32 port, bool host_side, int timeout_ms)
{
	struct sockaddr_vm svm;
	struct sockaddr_un sun;

	if (x->kind == SHUNT_XP_VSOCK) {
		vsock_addr(&svm, x->cid, port);
		return dial(AF_VSOCK, (struct sockaddr *)&svm, sizeof(svm), timeout_ms);
	}
	if (unix_addr(&sun, x->path, port, host_side))
		return -ENAMETOOLONG;
	return dial(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), timeout_ms);
}

int shunt_xport_listen_guest(const struct shunt_xport *x, __u32 port)
{
	return xport_listen(x, port, false);
}

int shunt_xport_listen_host(const struct shunt_xport *x, __u32 port)
{
	return xport_listen(x, port, true);
}

int shunt_xport_dial_host(const struct shunt_xport *x, __u32 port, int timeout_ms)
{
	return xport_dial(x, port, true, timeout_ms);
}

/*
 * Hybrid vsock, host to guest: "CONNECT <port>\n", then "OK <n>\n" where n
 * is the host-side port the VMM assigned, not ours.  If nothing listens on
 * the guest port the VMM just closes the connection: that is a refusal.
 * Read byte by byte: nothing after the newline is ours to consume.
 */
static int hybrid_connect(int fd, __u32 port, int timeout_ms)
{
	char line[64];
	size_t n = 0;
	unsigned long assigned;
	char *end;
	int err;

	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	err = shunt_write_full(fd, line, strlen(line), timeout_ms);
	if (err)
		return err;
	for (;;) {
		err = shunt_read_full(fd, line + n, 1, timeout_ms);
		if (err)
			return err == -EPIPE ? -ECONNREFUSED : err;
		if (line[n] == '\n')
			break;
		if (++n >= sizeof(line) - 1)
			return -EPROTO;
	}
	line[n] = 0;
	if (strncmp(line, "OK ", 3))
		return -EPROTO;
	errno = 0;
	assigned = strtoul(line + 3, &end, 10);
	if (errno || *end || end == line + 3 || assigned > 0xffffffffu)
		return -EPROTO;
	return 0;
}

int shunt_xport_dial_guest(const struct shunt_xport *x, __u32 port, int timeout_ms)
{
	int fd = xport_dial(x, port, false, timeout_ms), err;

	if (fd < 0 || x->kind != SHUNT_XP_HYBRID)
		return fd;
	err = hybrid_connect(fd, port, timeout_ms);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int shunt_tcp_dial(const struct shunt_addr *a, __u16 port, int timeout_ms)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (a->family == SHUNT_AF_INET) {
		s4.sin_addr.s_addr = a->a[0];
		return dial(AF_INET, (struct sockaddr *)&s4, sizeof(s4), timeout_ms);
	}
	memcpy(&s6.sin6_addr, a->a, 16);
	return dial(AF_INET6, (struct sockaddr *)&s6, sizeof(s6), timeout_ms);
}

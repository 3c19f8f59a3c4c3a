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
#include <sys/socket.h>

#include "internal.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/*
 * The netns cookie is what BPF sees (bpf_get_netns_cookie); read it with
 * SO_NETNS_COOKIE on a socket made inside the namespace.
 */
int shunt_netns_cookie(const char *netns, __u64 *cookie)
{
	char path[PATH_MAX];
	socklen_t len = sizeof(*cookie);
	int self = -1, target = -1, sock = -1, err = 0;

	if (!netns[0])
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	else if (strchr(netns, '/'))
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", netns);

	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(target, CLONE_NEWNET)) {
		err = shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
		goto out;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = shunt_set_error(errno, "netns cookie of %s: %s (kernel >= 5.14 needed)", path, strerror(errno));
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot happen for our own netns; never continue in the wrong one. */
		fprintf(stderr, "shunt: cannot return to own netns: %s\n", strerror(errno));
		abort();
	}
out:
	if (sock >= 0)
		close(sock);
	if (self >= 0)
		close(self);
	close(target);
	return err;
}

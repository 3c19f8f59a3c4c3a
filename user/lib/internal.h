/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the library's files share with each other and with nobody else:
 * bpffs and pin helpers, the read counter's link names, the pieces of
 * load that upgrade repeats, the cgroup2 mount.
 */
#ifndef SHUNT_INTERNAL_H
#define SHUNT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

#include "loader.h"
#include "error.h"

struct shunt_bpf;
struct shunt_features;
struct bpf_object;

/* bpffs.c */
int shunt_ensure_bpffs(const char *pin_dir);
void shunt_rm_tree(const char *dir);
/* bpf_obj_get of PIN_DIR/KIND/NAME: an fd or -1 with errno. */
int shunt_pin_open(const char *pin_dir, const char *kind, const char *name);

/* instance.c: the read counter's link pins (links/<prog>), whichever it is. */
extern const char *const shunt_rx_links[];
#define SHUNT_NR_RX_LINKS 3
int shunt_setup_features(struct shunt_bpf *skel, struct shunt_features *f);
int shunt_attach_rx(struct shunt_bpf *skel, const char *dir);
int shunt_pin_programs(struct bpf_object *obj, const char *dir);
/* Takes flock(@how) on @fd, retrying up to @timeout_ms (<0: forever). */
int shunt_flock(int fd, int how, int timeout_ms, const char *what);

/* cgroup.c */
bool shunt_find_cgroup(const char *dir, __u64 id, char *out, size_t len, int depth);

/* netns.c: the path of a netns as the user gives it ("", a path, a name). */
void shunt_netns_path(const char *netns, char *path, size_t len);
struct nlmsghdr;
struct mnl_socket;
struct shunt_addr;
/* An rtnetlink dump on @nl, @cb (an mnl_cb_t) for every message: 0 or -errno. */
int shunt_nl_dump(struct mnl_socket *nl, struct nlmsghdr *req,
		  int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);
/* The address of an RTM_NEWADDR message an endpoint should have: 1, or 0. */
int shunt_ifaddr(const struct nlmsghdr *nlh, struct shunt_addr *out, int *ifindex);

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns's clock, for heartbeats. */
static inline __u64 shunt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* table.c */
int shunt_get_cfg(struct shunt_ctx *c, struct shunt_cfg *cfg);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The loader library: load and pin shunt's programs and maps, attach them to
 * cgroups through pinned bpf_links, and read/replace the endpoint table.
 *
 * Pin layout (the same bpftool's `prog loadall ... pinmaps` produces, so a
 * bpftool-loaded instance is usable with the CLI and vice versa):
 *   PIN_DIR/progs/shunt_sockops, PIN_DIR/progs/shunt_msg
 *   PIN_DIR/maps/shunt_*
 *   PIN_DIR/links/cg_<cgroup id>     the sock_ops link of an attached cgroup
 *   PIN_DIR/links/cgso_<cgroup id>   its cgroup/setsockopt link
 * Functions return 0 or -errno and leave one line in shunt_strerror().
 */
#ifndef SHUNT_LOADER_H
#define SHUNT_LOADER_H

#include <stdbool.h>
#include <linux/types.h>

#include "endpoint.h"
#include "error.h"

#define SHUNT_DEFAULT_PIN_DIR "/sys/fs/bpf/shunt"

struct shunt_ctx {
	char pin_dir[256];
	int lock_fd;
	int cfg_fd, ep_local_fd, ep_peer_fd, endpoints_fd;
	int sockhash_fd, conns_fd, stats_fd;
	int sockops_fd, setsockopt_fd;
};

struct shunt_link_info {
	__u64 cgroup_id;
	char path[512];		/* cgroup path, or "" if it no longer exists */
};

struct shunt_status {
	bool paused;
	__u32 gen;
	int nlinks;
	struct shunt_link_info links[64];
	int endpoints;
	int sockets;		/* sockets in the sockhash now */
	int conns_redir;	/* connections with a redirected direction now */
	__u32 max_sockets;	/* sockhash size (load --max-sockets) */
	__u64 fc_bound;		/* flow-control bound in bytes; 0: unknown */
	int rx_hook;		/* enum shunt_rx_hook loaded with; -1: unknown */
	int rx_links;		/* read-counter links pinned (0: not counting) */
	__u64 stats[SHUNT_ST_MAX];
};

extern const char *const shunt_stat_names[SHUNT_ST_MAX];


struct shunt_load_opts {
	__u32 max_sockets;	/* sockhash and conn table size; 0: default */
	__u64 fc_bound;		/* flow-control bound in bytes; 0: default */
};

int shunt_check_env(void);
int shunt_load(const char *pin_dir, const struct shunt_load_opts *opts);
int shunt_unload(const char *pin_dir);
/* Replace a loaded instance's programs, keeping its maps and sockets. */
int shunt_upgrade(const char *pin_dir);
/* Pauses new redirects, waits for redirected sockets to close: 0 or -EBUSY. */
int shunt_drain(struct shunt_ctx *c, int wait_s);
int shunt_resume(struct shunt_ctx *c, bool *was_paused);
/* Opens the pinned instance and takes the instance lock. */
int shunt_open(struct shunt_ctx *c, const char *pin_dir);
void shunt_close(struct shunt_ctx *c);

int shunt_attach(struct shunt_ctx *c, const char *cgroup);
int shunt_detach(struct shunt_ctx *c, const char *cgroup);

int shunt_ep_read(struct shunt_ctx *c, struct ep_table *t);
/* Replaces the whole table, atomically for the BPF side. */
int shunt_ep_write(struct shunt_ctx *c, struct ep_table *t);
int shunt_netns_cookie(const char *netns, __u64 *cookie);

int shunt_status_read(struct shunt_ctx *c, struct shunt_status *s);

#endif

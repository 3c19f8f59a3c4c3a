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
 *   PIN_DIR/links/cgc4_, cgc6_, cgpn4_, cgpn6_<cgroup id>
 *                                    its connect4/6 and getpeername4/6 links
 *                                    (the vsock bridge's steering: no-ops
 *                                    unless an agent runs in that instance)
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
	int ep_stats_fd, tcp_conns_fd, ev_rings_fd, ev_readers_fd, ev_lost_fd;
	int sockops_fd, setsockopt_fd;
	/* the vsock bridge (bridge.h) */
	int br_dst_fd, br_agent_fd, br_handover_fd, br_stats_fd;
	int connect4_fd, connect6_fd, getpeername4_fd, getpeername6_fd;
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
	__u64 obj_id;		/* the running BPF object's hash; 0: unknown */
	char version[SHUNT_VERSION_MAX];	/* the loader that loaded it; "": unknown */
	__u64 stats[SHUNT_ST_MAX];
	/* the vsock bridge */
	__u64 br[SHUNT_BR_MAX];		/* enum shunt_br_stat */
	struct shunt_br_agent agent;	/* the liveness word */
	bool agent_alive;		/* port set and heartbeat fresh */
};

extern const char *const shunt_stat_names[SHUNT_ST_MAX];


struct shunt_load_opts {
	__u32 max_sockets;	/* sockhash and conn table size; 0: default */
	__u64 fc_bound;		/* flow-control bound in bytes; 0: default */
};

int shunt_check_env(void);
/* This build: its version (git describe or VERSION) and the hash of the
 * BPF object it embeds, which load stores in the object's .rodata. */
const char *shunt_build_version(void);
__u64 shunt_object_id(void);
int shunt_load(const char *pin_dir, const struct shunt_load_opts *opts);
int shunt_unload(const char *pin_dir);
/* Replace a loaded instance's programs, keeping its maps and sockets. */
int shunt_upgrade(const char *pin_dir);
/* Pauses new redirects, waits for redirected sockets to close: 0 or -EBUSY. */
int shunt_drain(struct shunt_ctx *c, int wait_s);
int shunt_resume(struct shunt_ctx *c, bool *was_paused);
/*
 * Opens the pinned instance, without a lock: enough for readers (status,
 * list), which never block writers.  A writer then takes shunt_lock().
 */
int shunt_open(struct shunt_ctx *c, const char *pin_dir);
/* Exclusive instance lock, waiting up to @timeout_ms (<0: forever);
 * -ETIMEDOUT if not had in time.  Released by shunt_close(). */
#define SHUNT_LOCK_WAIT_MS 10000
int shunt_lock(struct shunt_ctx *c, int timeout_ms);
void shunt_close(struct shunt_ctx *c);

/*
 * Attaching a cgroup below or above an attached one would run shunt's
 * sock_ops twice for its sockets: refused, -EEXIST (an ancestor is attached:
 * its sockets are covered already) or -ENOTEMPTY (a descendant is).
 * Attaching an attached cgroup again is a no-op.  @id, if not NULL, gets
 * the cgroup id.
 */
int shunt_attach(struct shunt_ctx *c, const char *cgroup, __u64 *id);
int shunt_detach(struct shunt_ctx *c, const char *cgroup);
/*
 * Does a socket in @cgroup run shunt?  1: @cgroup itself is attached; 2: an
 * ancestor is (its path in @via; cgroup-bpf runs every level's programs);
 * 0: neither.
 */
int shunt_cgroup_covered(struct shunt_ctx *c, const char *cgroup, char *via, size_t len);
/* Detaches by cgroup id (the directory may be gone); 0 if it was not attached. */
int shunt_detach_id(struct shunt_ctx *c, __u64 id);
/* Unpins the links whose cgroup no longer exists; returns how many, or -errno. */
int shunt_links_gc(struct shunt_ctx *c);
/* Where cgroup2 is mounted (from /proc/mounts); "" if nowhere. */
void shunt_cgroup2_mount(char *out, size_t len);
/* The cgroup v2 directory of process @pid (its "0::" line). */
int shunt_cgroup_of_pid(int pid, char *out, size_t len);

int shunt_ep_read(struct shunt_ctx *c, struct ep_table *t);
/* Replaces the whole table, atomically for the BPF side (caller locks). */
int shunt_ep_write(struct shunt_ctx *c, struct ep_table *t);
/* Replaces @owner's entries by @mine, leaving other owners' (caller locks). */
int shunt_ep_set_owned(struct shunt_ctx *c, const char *owner,
		       const struct ep_table *mine, bool replace_stale);
void shunt_stat_add(struct shunt_ctx *c, enum shunt_stat st, __u64 n);
/* `endpoint load`: @file becomes the static endpoints (caller locks). */
int shunt_ep_load_static(struct shunt_ctx *c, const struct ep_table *file, bool partial,
			 int *skipped_owner, int *skipped_netns);

int shunt_netns_cookie(const char *netns, __u64 *cookie);
/* Does @netns (a path or name) still name a netns with this cookie? */
bool shunt_netns_alive(const char *netns, __u64 cookie);
/*
 * The netns of process @pid: a path under /run/netns (or /var/run/netns)
 * bound to it if there is one, else /proc/PID/ns/net; and its cookie.
 */
int shunt_netns_of_pid(int pid, char *path, size_t len, __u64 *cookie);
/*
 * The addresses of every interface in @netns, read over netlink: IPv4 and
 * IPv6, without loopback, link-local, and IPv6 addresses whose duplicate
 * address detection failed.  Tentative IPv6 addresses (DAD still running)
 * are included: they become usable without a new registration.
 */
int shunt_netns_addrs(const char *netns, struct shunt_addr *out, int max, int *n);

int shunt_status_read(struct shunt_ctx *c, struct shunt_status *s);

/* observe.c: per-endpoint counters and the connections shunt holds. */
/* The counters of endpoint @ep_id, summed over CPUs (zero if none yet). */
int shunt_ep_stats_read(struct shunt_ctx *c, __u32 ep_id, struct shunt_ep_stat *out);
/* Deletes the counters of every id not in @t (an endpoint's go with it). */
void shunt_ep_stats_gc(struct shunt_ctx *c, const struct ep_table *t);

struct shunt_conn_view {
	struct shunt_sock_key key[2];	/* [0]: the connecting end's view, [1]: the other's */
	__u32 ep_id[2];
	__u8 tx[2];			/* enum shunt_tx per end; SHUNT_TX_TCP for --all records */
	bool tcp_only;			/* classified TCP at establishment */
	__u32 reason[2];		/* tcp_only: each end's enum shunt_stat; SHUNT_ST_MAX: not seen
					 * (that end's socket is not in an attached cgroup) */
	__u32 state;			/* conn word bits */
	__u64 age_ns;
	__u64 sent[2];			/* bytes each end sent since its direction was redirected */
	__u64 queued[2];		/* of those, not yet read by the other end */
};

/*
 * Every connection in shunt_conns (a walk of the map: the kernel's BPF
 * iterators are not needed for what it holds), and with @all the sockets
 * classified for TCP (shunt_tcp_conns).  *out is malloc'd.
 */
int shunt_conns_read(struct shunt_ctx *c, bool all, struct shunt_conn_view **out, int *n);

#endif

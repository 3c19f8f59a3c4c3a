/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The vsock bridge across VMs (issue 13; README "Across VMs", docs/bridge.md).
 *
 *   app --TCP--> agent (VM A) ==transport==> relay (host) ==transport==> agent (VM B) --TCP--> server
 *
 * The agent (`shunt bridge`, one per VM instance) accepts the connections
 * the connect hook steered to it, asks the relay for the destination, and
 * moves the bytes; the relay (`shunt bridge --host`) checks every request
 * against the host's endpoint table and joins the two agents.  Wire
 * format: one fixed header (struct shunt_br_hdr), one reply, then frames.
 *
 * bridge_proto.c is pure (unit-tested, fuzzed): the wire format, the
 * transports' names, the relay's VM list, errno mapping.
 */
#ifndef SHUNT_BRIDGE_H
#define SHUNT_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "endpoint.h"

#define SHUNT_BR_PORT		9327	/* the agent: vsock port and TCP listener */
#define SHUNT_BR_RELAY_PORT	9328	/* the relay's vsock port (guest to host) */
#define SHUNT_BR_HOST_CID	2	/* VMADDR_CID_HOST */

#define SHUNT_BR_MAGIC		0x53484252u	/* "SHBR" */
#define SHUNT_BR_VERSION	1

enum shunt_br_type {
	SHUNT_BR_T_OPEN = 1,	/* a connection to (dst_vm, network, addr, port) */
	SHUNT_BR_T_LIST = 2,	/* the endpoints of my networks, please */
	SHUNT_BR_T_WATCH = 3,	/* the same, now and at every change (below) */
};

/*
 * WATCH: the relay replies as to LIST and keeps the connection: a new
 * reply with the list whenever it changes, else an empty one (len 0)
 * every SHUNT_BR_KEEPALIVE_MS.  An agent that hears nothing for
 * SHUNT_BR_WATCH_DEAD_MS, or whose connection ends, takes the relay for
 * dead and stops steering at once.  A relay that does not know WATCH
 * (BAD_HEADER) is asked with LIST every --refresh seconds instead.
 */
#define SHUNT_BR_KEEPALIVE_MS	1000
#define SHUNT_BR_WATCH_DEAD_MS	3000

/*
 * The request, agent to relay and relay to agent: 128 bytes, integers in
 * network order, names NUL-padded.  src_vm is zero from an agent; the relay
 * stamps it from the transport the request came on (guests are not
 * trusted to say who they are).
 */
struct shunt_br_hdr {
	__be32 magic;
	__u8 version;
	__u8 type;		/* enum shunt_br_type */
	__u8 family;		/* SHUNT_AF_INET or SHUNT_AF_INET6; 0 for LIST, WATCH */
	__u8 pad0;
	__be16 port;
	__be16 pad1;
	__u8 addr[16];		/* IPv4 in the first 4 bytes */
	char dst_vm[SHUNT_NET_MAX];
	char network[SHUNT_NET_MAX];
	char src_vm[SHUNT_NET_MAX];
	__u8 pad2[4];
};

enum shunt_br_status {
	SHUNT_BR_S_OK = 0,
	SHUNT_BR_S_REFUSED,		/* the destination port refused */
	SHUNT_BR_S_UNREACHABLE,		/* the destination did not answer */
	SHUNT_BR_S_UNKNOWN_VM,
	SHUNT_BR_S_NOT_EP,		/* not a registered endpoint of that VM and network */
	SHUNT_BR_S_NETWORK,		/* the source VM is not in that network */
	SHUNT_BR_S_BAD_HEADER,
	SHUNT_BR_S_DST_DOWN,		/* the destination VM's agent is not reachable */
	SHUNT_BR_S_MAX,
};

/* The reply: 48 bytes; for LIST and WATCH, @len bytes of endpoint JSON follow. */
struct shunt_br_reply {
	__be32 magic;
	__u8 version;
	__u8 status;		/* enum shunt_br_status */
	__be16 pad;
	__be32 len;
	__be32 pad1;
	char vm[SHUNT_NET_MAX];	/* LIST, WATCH: the VM the relay knows the asker as */
};

#define SHUNT_BR_LIST_MAX	(4u << 20)

/*
 * After an OK reply, each direction is a stream of frames: a 4-byte word,
 * type in the top byte, length in the low 24 bits, then DATA's bytes.
 * FIN is a half-close.  There is no reset frame: a transport that ends
 * before a direction's FIN is a reset, and is turned into one (an RST on
 * the TCP socket at that end), so a dead agent, relay or VM can never
 * look like a clean end of the stream.
 */
#define SHUNT_BR_F_DATA		1
#define SHUNT_BR_F_FIN		2
#define SHUNT_BR_FRAME_MAX	(1u << 20)

static inline __u32 shunt_br_frame(unsigned type, __u32 len)
{
	return __builtin_bswap32((type << 24) | (len & 0xffffff));
}

/* Fills an OPEN request. */
void shunt_br_hdr_open(struct shunt_br_hdr *h, const char *dst_vm, const char *network,
		       const struct shunt_addr *addr, __u16 port);
/* LIST or WATCH (@type): they take no arguments. */
void shunt_br_hdr_list(struct shunt_br_hdr *h, int type);
/*
 * Checks a received request: magic, version, type, family, names
 * NUL-terminated and valid; @stamped: src_vm must be set (from the
 * relay), else must be empty (from an agent).  0 or -EPROTO with the reason.
 */
int shunt_br_hdr_check(const struct shunt_br_hdr *h, bool stamped);
void shunt_br_hdr_addr(const struct shunt_br_hdr *h, struct shunt_addr *a);
void shunt_br_reply_fill(struct shunt_br_reply *r, int status, __u32 len, const char *vm);
int shunt_br_reply_check(const struct shunt_br_reply *r);
const char *shunt_br_status_str(int status);
/* The status a failed connect(2) to the destination becomes. */
int shunt_br_connect_status(int err);
/* The counter (enum shunt_br_stat) of a rejecting status. */
int shunt_br_status_stat(int status);

/*
 * Transports.  An agent names its own: "vsock" (listen on vsock port P,
 * reach the host at CID 2) or "unix:PATH" (listen on PATH, reach the host
 * at PATH_<relay port>: the tests' stand-in for a VM).  The relay names a
 * VM's: "vsock:CID" (vhost-vsock), "hybrid:PATH" (Firecracker and Cloud
 * Hypervisor: connect PATH, "CONNECT <port>\n", "OK <port>\n"; the guest
 * reaches us at PATH_<port>) or "unix:PATH" (as hybrid, without the
 * CONNECT line).
 */
enum shunt_xport_kind {
	SHUNT_XP_VSOCK = 1,
	SHUNT_XP_UNIX,
	SHUNT_XP_HYBRID,
};

struct shunt_xport {
	int kind;
	__u32 cid;		/* SHUNT_XP_VSOCK */
	char path[108];		/* sun_path: unix and hybrid */
};

int shunt_xport_parse(const char *s, bool relay_side, struct shunt_xport *x);
void shunt_xport_format(const struct shunt_xport *x, char *buf, size_t len);

/* The relay's VMs: "NAME TRANSPORT" lines ('#' comments), or NAME=TRANSPORT. */
struct shunt_br_vm {
	char name[SHUNT_NET_MAX];
	struct shunt_xport x;
	int listen_fd;		/* unix/hybrid: its PATH_<port> listener */
};

struct shunt_br_vms {
	struct shunt_br_vm *v;
	int n;
};

int shunt_br_vm_add(struct shunt_br_vms *vms, const char *spec);	/* "NAME=TRANSPORT" */
int shunt_br_vms_parse(struct shunt_br_vms *vms, const char *text, const char *what);
void shunt_br_vms_free(struct shunt_br_vms *vms);

/* bridge_xport.c: sockets.  Each returns an fd (blocking, CLOEXEC) or -errno. */
int shunt_xport_listen_guest(const struct shunt_xport *x, __u32 port);
int shunt_xport_listen_host(const struct shunt_xport *x, __u32 port);
int shunt_xport_dial_host(const struct shunt_xport *x, __u32 port, int timeout_ms);
int shunt_xport_dial_guest(const struct shunt_xport *x, __u32 port, int timeout_ms);
/* A TCP connect with a timeout: fd or -errno. */
int shunt_tcp_dial(const struct shunt_addr *a, __u16 port, int timeout_ms);
/* Exactly @len bytes, waiting up to @timeout_ms in all: 0 or -errno (-EPIPE at EOF). */
int shunt_read_full(int fd, void *buf, size_t len, int timeout_ms);
int shunt_write_full(int fd, const void *buf, size_t len, int timeout_ms);

/* bridge_pump.c: move the bytes until both directions end. */
struct shunt_br_bytes {
	__u64 out;	/* tcp to transport */
	__u64 in;	/* transport to tcp */
};
/* Framed, between an application's TCP socket and a transport: 0 clean,
 * -1 reset (the TCP socket is then closed with an RST).  Closes both. */
int shunt_br_pump_framed(int tcp, int x, struct shunt_br_bytes *b);
/* Raw, between two transports (the relay): EOF on one side is a
 * shutdown of the other.  Closes both. */
int shunt_br_pump_raw(int a, int b);
/* For a TCP socket that may have to end in a reset: SO_LINGER {1, 0}. */
void shunt_br_arm_reset(int tcp);

struct shunt_br_agent_opts {
	struct shunt_xport x;		/* our transport */
	__u32 port;			/* agent port (vsock and TCP) */
	__u32 relay_port;
	int refresh_s;			/* endpoint list refresh, if the relay cannot WATCH */
	int max_conns;
};

struct shunt_br_relay_opts {
	struct shunt_br_vms vms;
	__u32 port;			/* agents' port */
	__u32 relay_port;
	int max_conns;
};

/* Run until SIGINT or SIGTERM: 0, or -errno at setup with the reason. */
int shunt_bridge_agent(const char *pin_dir, const struct shunt_br_agent_opts *o);
int shunt_bridge_relay(const char *pin_dir, const struct shunt_br_relay_opts *o);

extern const char *const shunt_br_stat_names[SHUNT_BR_MAX];

/*
 * bridge_run.c, what the agent and the relay share: their counters (user
 * space's indices of shunt_br_stats, written from CPU 0's slot by one
 * process per instance, every second and at exit), a stop flag set by
 * SIGINT and SIGTERM, and connection threads with a limit.
 */
struct shunt_ctx;
struct shunt_br_run {
	struct shunt_ctx *c;
	__u64 base[SHUNT_BR_MAX];	/* the counters when we started */
	__u64 cnt[SHUNT_BR_MAX];	/* ours since (__atomic) */
	struct shunt_br_bytes bytes;	/* -> BYTES_OUT / BYTES_IN */
	int conns, max_conns;		/* live connection threads (__atomic) */
	__u64 last_tick;		/* CLOCK_MONOTONIC ns of the last shunt_br_tick */
};

void shunt_br_run_init(struct shunt_br_run *r, struct shunt_ctx *c, int max_conns);
void shunt_br_count(struct shunt_br_run *r, int stat);
void shunt_br_flush(struct shunt_br_run *r);
/* Once a second at most: flushes the counters and returns true (the
 * main loops' periodic work goes with it, not with every accept). */
bool shunt_br_tick(struct shunt_br_run *r);
#define SHUNT_BR_POLL_MS 250	/* the main loops' poll: ticks come within 1.25 s */
/* accept4 of a listener: the fd, or -1 (out of fds: after a pause, so a
 * readable listener is no busy loop). */
int shunt_br_accept(int lfd);
/* Installs the handlers; shunt_br_stopping() turns true at a signal. */
void shunt_br_signals(void);
bool shunt_br_stopping(void);
/* Runs fn(arg) in a detached thread counted in r->conns: 0, or -EAGAIN
 * at the limit (the caller closes what it had). */
int shunt_br_spawn(struct shunt_br_run *r, void *(*fn)(void *), void *arg);
void shunt_br_spawned_done(struct shunt_br_run *r);
void shunt_br_raise_nofile(void);
/* Reads the instance's liveness word into *ag: true if an agent is alive
 * (a port set, its heartbeat younger than SHUNT_BR_HEARTBEAT_NS). */
bool shunt_br_agent_alive(struct shunt_ctx *c, struct shunt_br_agent *ag);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bridge agent, `shunt bridge`: one per VM, with that VM's instance.
 *
 * - It holds a WATCH open to the relay, which sends the endpoints of its
 *   networks at every change (a relay without WATCH is asked every
 *   refresh): the other VMs' become this instance's peer entries (owner
 *   "bridge", location vsock), which the connect hook steers to us; its
 *   own it keeps as the only addresses it will ever connect to for the
 *   relay.
 * - It keeps the liveness word fresh while the relay answers, and clears
 *   it the moment the WATCH ends or goes silent; without it the connect
 *   hook steers nothing (the safe side: the VM's network).
 * - Out: a steered connection arrives on 127.0.0.1 / ::1 PORT; its
 *   original destination is the handover entry of its port.  In: the
 *   relay connects on our transport with a stamped header.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "bridge.h"
#include "internal.h"
#include "loader.h"
#include "log.h"

#define DIAL_MS		3000
#define REPLY_MS	10000
#define HDR_MS		5000
#define DEST_MS		5000

struct agent {
	struct shunt_ctx c;
	const struct shunt_br_agent_opts *o;
	struct shunt_br_run run;
	__u64 netns;
	/* The liveness word follows relay_ok, both under hb_lock, so a
	 * relay found dead stops the steering at once and a late "alive"
	 * cannot overwrite that. */
	pthread_mutex_t hb_lock;
	int relay_ok;			/* the relay answers */
	bool closing;			/* we stop: never alive again */
	int watch_fd;			/* the WATCH connection, -1 if none */
	int watch;			/* __atomic: the relay knows WATCH */
	pthread_mutex_t lock;		/* guards the two tables and vm */
	struct ep_table own;		/* this VM's endpoints, from the relay */
	struct ep_table peers;		/* the bridge's entries as stored here (local ids) */
	char vm[SHUNT_NET_MAX];		/* what the relay calls us */
	char *last_list;		/* the last list written, to skip rewrites */
};

static void heartbeat(struct agent *a, bool alive)
{
	struct shunt_br_agent w = {};
	__u32 zero = 0;

	if (alive) {
		w.heartbeat_ns = shunt_mono_ns();
		w.netns = a->netns;
		w.pid = getpid();
		w.port = a->o->port;
	}
	bpf_map_update_elem(a->c.br_agent_fd, &zero, &w, BPF_ANY);
}

static bool is_closing(struct agent *a)
{
	return __atomic_load_n(&a->closing, __ATOMIC_SEQ_CST);
}

/* The relay answers (@why NULL) or not (@why says how): logged when it
 * changes; the liveness word follows. */
static void relay_state(struct agent *a, const char *why)
{
	pthread_mutex_lock(&a->hb_lock);
	if (!why && !a->relay_ok && !is_closing(a))
		pr_info("bridge: relay answers; steering\n");
	else if (why && a->relay_ok)
		pr_warn("bridge: %s; not steering until it answers\n", why);
	a->relay_ok = !why && !is_closing(a);
	heartbeat(a, a->relay_ok);
	pthread_mutex_unlock(&a->hb_lock);
}

/* Every tick: keep the word fresh while the relay answers. */
static void heartbeat_tick(struct agent *a)
{
	pthread_mutex_lock(&a->hb_lock);
	if (a->relay_ok)
		heartbeat(a, true);
	pthread_mutex_unlock(&a->hb_lock);
}

static bool relay_ok(struct agent *a)
{
	bool ok;

	pthread_mutex_lock(&a->hb_lock);
	ok = a->relay_ok;
	pthread_mutex_unlock(&a->hb_lock);
	return ok;
}

/* --- the endpoint list -------------------------------------------------- */

/* A LIST or WATCH sent: the connection, or -errno with the reason. */
static int ask_list(struct agent *a, int type)
{
	struct shunt_br_hdr h;
	int fd, err;

	fd = shunt_xport_dial_host(&a->o->x, a->o->relay_port, DIAL_MS);
	if (fd < 0)
		return shunt_set_error(-fd, "relay: %s", strerror(-fd));
	shunt_br_hdr_list(&h, type);
	err = shunt_write_full(fd, &h, sizeof(h), HDR_MS);
	if (err) {
		close(fd);
		return shunt_set_error(-err, "relay: %s", err == -EPIPE ? "closed the connection" : strerror(-err));
	}
	return fd;
}

/*
 * One reply within @ms: 0 and the list in *t, *vm, *text; 1 for an empty
 * reply (WATCH's keepalive); -ENOTSUP if the relay refused the request as
 * a bad header (one that does not know WATCH); else -errno, the reason set.
 */
static int read_list(int fd, int ms, struct ep_table *t, char *vm, char **text)
{
	struct shunt_br_reply r;
	__u32 len;
	char *buf;
	int err;

	err = shunt_read_full(fd, &r, sizeof(r), ms);
	if (err)
		return shunt_set_error(-err, "relay: %s", err == -EPIPE ? "closed the connection" :
				       err == -ETIMEDOUT ? "silent for too long" : strerror(-err));
	if (shunt_br_reply_check(&r))
		return shunt_set_error(EPROTO, "relay: %s", shunt_strerror());
	if (r.status == SHUNT_BR_S_BAD_HEADER)
		return shunt_set_error(ENOTSUP, "relay refused the request");
	if (r.status != SHUNT_BR_S_OK)
		return shunt_set_error(EPROTO, "relay refused the list: %s", shunt_br_status_str(r.status));
	len = ntohl(r.len);
	if (!len)
		return 1;
	buf = calloc(1, len + 1);
	if (!buf)
		return shunt_set_error(ENOMEM, "out of memory");
	err = shunt_read_full(fd, buf, len, REPLY_MS);
	if (err) {
		free(buf);
		return shunt_set_error(-err, "relay: list cut short");
	}
	memset(t, 0, sizeof(*t));
	if (ep_table_parse_json(t, buf, "the relay's list")) {
		free(buf);
		return -EPROTO;
	}
	snprintf(vm, SHUNT_NET_MAX, "%s", r.vm);
	*text = buf;
	return 0;
}

/* Writes the other VMs' endpoints as ours to steer: 0 or -errno. */
static int store_peers(struct agent *a, const struct ep_table *all, const char *vm)
{
	struct ep_table peers = {}, stored = {}, own = {};
	int err = 0;

	for (int i = 0; i < all->n && !err; i++) {
		const struct endpoint *ep = &all->eps[i];

		if (!ep->vm[0])
			continue;	/* a host's own endpoint: not for VMs */
		err = ep_table_add(strcmp(ep->vm, vm) ? &peers : &own, ep);
	}
	if (!err && !(err = shunt_lock(&a->c, SHUNT_LOCK_WAIT_MS))) {
		err = shunt_ep_set_owned(&a->c, SHUNT_OWNER_BRIDGE, &peers, false);
		if (!err)
			err = shunt_ep_read(&a->c, &stored);
		flock(a->c.lock_fd, LOCK_UN);
	}
	if (!err) {
		for (int i = stored.n - 1; i >= 0; i--)
			if (!ep_owned_by(&stored.eps[i], SHUNT_OWNER_BRIDGE))
				ep_table_del(&stored, stored.eps[i].name);
		pthread_mutex_lock(&a->lock);
		ep_table_free(&a->peers);
		ep_table_free(&a->own);
		a->peers = stored;
		a->own = own;
		snprintf(a->vm, sizeof(a->vm), "%s", vm);
		pthread_mutex_unlock(&a->lock);
		memset(&stored, 0, sizeof(stored));
		memset(&own, 0, sizeof(own));
	}
	ep_table_free(&peers);
	ep_table_free(&stored);
	ep_table_free(&own);
	return err;
}

/* A list from the relay: stored if it changed; 0, or -errno (logged). */
static int apply_list(struct agent *a, struct ep_table *t, const char *vm, char *text)
{
	if (!a->last_list || strcmp(a->last_list, text) || strcmp(vm, a->vm)) {
		if (store_peers(a, t, vm)) {
			pr_warn("bridge: cannot store the relay's list: %s\n", shunt_strerror());
			ep_table_free(t);
			free(text);
			return -EIO;
		}
		free(a->last_list);
		a->last_list = text;
		pr_info("bridge: this VM is \"%s\"; %d endpoint(s) of other VMs\n", vm, a->peers.n);
	} else {
		free(text);
	}
	ep_table_free(t);
	return 0;
}

/* A relay without WATCH: a LIST every --refresh, every tick while it is down. */
static void poll_list(struct agent *a)
{
	struct ep_table t;
	char vm[SHUNT_NET_MAX], *text = NULL;
	int fd, err;

	fd = ask_list(a, SHUNT_BR_T_LIST);
	if (fd < 0) {
		relay_state(a, shunt_strerror());
		return;
	}
	err = read_list(fd, REPLY_MS, &t, vm, &text);
	close(fd);
	if (err > 0)
		err = shunt_set_error(EPROTO, "relay: an empty reply to LIST");
	if (!err && apply_list(a, &t, vm, text))
		err = shunt_set_error(EIO, "cannot store the relay's list");
	relay_state(a, err ? shunt_strerror() : NULL);
}

/*
 * The WATCH thread: one connection to the relay, held open; each list it
 * sends is stored, and its end or SHUNT_BR_WATCH_DEAD_MS of silence stops
 * the steering at once.  Then it dials again every second.  A relay that
 * does not know WATCH makes it hand over to poll_list for good.
 */
static void *watch_main(void *p)
{
	struct agent *a = p;

	while (!shunt_br_stopping()) {
		bool listed = false;
		int fd = ask_list(a, SHUNT_BR_T_WATCH), err = 0;

		if (fd >= 0) {
			pthread_mutex_lock(&a->hb_lock);
			if (is_closing(a)) {
				close(fd);
				fd = -1;
			}
			a->watch_fd = fd;
			pthread_mutex_unlock(&a->hb_lock);
		}
		while (fd >= 0) {
			struct ep_table t;
			char vm[SHUNT_NET_MAX], *text = NULL;

			err = read_list(fd, SHUNT_BR_WATCH_DEAD_MS, &t, vm, &text);
			if (err == -ENOTSUP && !listed) {
				pr_info("bridge: the relay cannot WATCH; asking for the list every %d s\n",
					a->o->refresh_s);
				__atomic_store_n(&a->watch, 0, __ATOMIC_SEQ_CST);
				break;
			}
			if (err < 0) {
				relay_state(a, shunt_strerror());
				break;
			}
			if (!err && apply_list(a, &t, vm, text)) {
				relay_state(a, "cannot store the relay's list");
				break;
			}
			listed |= !err;		/* a keepalive before any list says nothing */
			if (listed)
				relay_state(a, NULL);
		}
		if (fd < 0)
			relay_state(a, shunt_strerror());
		pthread_mutex_lock(&a->hb_lock);
		if (fd >= 0)
			close(fd);
		a->watch_fd = -1;
		pthread_mutex_unlock(&a->hb_lock);
		if (!__atomic_load_n(&a->watch, __ATOMIC_SEQ_CST))
			break;
		for (int i = 0; i < 10 && !shunt_br_stopping() && !is_closing(a); i++)
			usleep(100000);
		if (is_closing(a))
			break;
	}
	return NULL;
}

/* --- connections -------------------------------------------------------- */

struct conn {
	struct agent *a;
	int fd;
};

static void reset_close(int fd)
{
	shunt_br_arm_reset(fd);
	close(fd);
}

/* A steered application connection: find where it was going, open it. */
static void *out_conn(void *p)
{
	struct conn cn = *(struct conn *)p;
	struct agent *a = cn.a;
	struct shunt_br_handover_key k = { .netns = a->netns };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct shunt_br_orig o;
	struct shunt_br_reply r;
	struct shunt_br_hdr h;
	struct endpoint dst = {};
	bool found = false;
	int x, err, stat = -1;

	free(p);
	shunt_br_arm_reset(cn.fd);
	if (getpeername(cn.fd, (struct sockaddr *)&ss, &sl))
		goto fail;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		__u32 w[4] = { s4->sin_addr.s_addr };

		shunt_addr_set(&k.src, 0, w);
		k.port = ntohs(s4->sin_port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		__u32 w[4];

		memcpy(w, &s6->sin6_addr, sizeof(w));
		shunt_addr_set(&k.src, 1, w);
		k.port = ntohs(s6->sin6_port);
	}
	if (bpf_map_lookup_and_delete_elem(a->c.br_handover_fd, &k, &o)) {
		stat = SHUNT_BR_NO_ORIG;	/* not steered: nobody dials us directly */
		goto fail;
	}
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->peers.n && !found; i++)
		if (a->peers.eps[i].ep_id == o.ep_id) {
			dst = a->peers.eps[i];
			found = true;
		}
	pthread_mutex_unlock(&a->lock);
	if (!found) {
		stat = SHUNT_BR_REJ_NOT_EP;	/* the list changed under it */
		goto fail;
	}
	x = shunt_xport_dial_host(&a->o->x, a->o->relay_port, DIAL_MS);
	if (x < 0) {
		stat = SHUNT_BR_RELAY_DOWN;
		relay_state(a, "relay: cannot connect");
		goto fail;
	}
	shunt_br_hdr_open(&h, dst.vm, dst.network, &o.addr, o.port);
	err = shunt_write_full(x, &h, sizeof(h), HDR_MS);
	if (!err)
		err = shunt_read_full(x, &r, sizeof(r), REPLY_MS);
	if (err || shunt_br_reply_check(&r) || r.status != SHUNT_BR_S_OK) {
		stat = err ? SHUNT_BR_RELAY_DOWN : shunt_br_status_stat(r.status);
		close(x);
		goto fail;
	}
	shunt_br_count(&a->run, SHUNT_BR_OPENED);
	if (shunt_br_pump_framed(cn.fd, x, &a->run.bytes))
		shunt_br_count(&a->run, SHUNT_BR_ABORTED);
	shunt_br_spawned_done(&a->run);
	return NULL;
fail:
	if (stat >= 0)
		shunt_br_count(&a->run, stat);
	reset_close(cn.fd);	/* the application reads ECONNRESET */
	shunt_br_spawned_done(&a->run);
	return NULL;
}

static bool addr_usable(const struct shunt_addr *x)
{
	__u32 v4 = ntohl(x->a[0]);

	if (x->family == SHUNT_AF_INET)
		return v4 && (v4 >> 24) != 127 && (v4 >> 28) != 14 && v4 != 0xffffffffu;
	/* not ::, ::1, multicast */
	if (!x->a[0] && !x->a[1] && !x->a[2] && (!x->a[3] || ntohl(x->a[3]) == 1))
		return false;
	return (v4 >> 24) != 0xff;
}

/* Is @addr one of this VM's endpoints in @network? */
static bool own_endpoint(struct agent *a, const char *network, const struct shunt_addr *addr)
{
	bool ok = false;

	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->own.n && !ok; i++) {
		const struct endpoint *ep = &a->own.eps[i];

		if (strcmp(ep->network, network))
			continue;
		for (int j = 0; j < ep->naddrs && !ok; j++)
			ok = addr_equal(&ep->addrs[j], addr);
	}
	pthread_mutex_unlock(&a->lock);
	return ok && addr_usable(addr);
}

static void reply(int x, int status)
{
	struct shunt_br_reply r;

	shunt_br_reply_fill(&r, status, 0, NULL);
	shunt_write_full(x, &r, sizeof(r), HDR_MS);
}

/* The relay brings a connection for one of our endpoints. */
static void *in_conn(void *p)
{
	struct conn cn = *(struct conn *)p;
	struct agent *a = cn.a;
	struct shunt_br_hdr h;
	struct shunt_addr addr;
	int tcp, err, status;

	free(p);
	err = shunt_read_full(cn.fd, &h, sizeof(h), HDR_MS);
	if (err || shunt_br_hdr_check(&h, true) || h.type != SHUNT_BR_T_OPEN) {
		if (!err)
			pr_warn("bridge: rejected a request: %s\n",
				h.type != SHUNT_BR_T_OPEN ? "not OPEN" : shunt_strerror());
		shunt_br_count(&a->run, SHUNT_BR_REJ_HEADER);
		reply(cn.fd, SHUNT_BR_S_BAD_HEADER);
		goto out;
	}
	shunt_br_hdr_addr(&h, &addr);
	/* Only our own registered endpoints: never loopback, never anything else. */
	if (!own_endpoint(a, h.network, &addr)) {
		shunt_br_count(&a->run, SHUNT_BR_REJ_NOT_EP);
		reply(cn.fd, SHUNT_BR_S_NOT_EP);
		goto out;
	}
	tcp = shunt_tcp_dial(&addr, ntohs(h.port), DEST_MS);
	status = shunt_br_connect_status(tcp < 0 ? tcp : 0);
	if (status != SHUNT_BR_S_OK) {
		shunt_br_count(&a->run, SHUNT_BR_REFUSED);
		reply(cn.fd, status);
		goto out;
	}
	shunt_br_arm_reset(tcp);
	reply(cn.fd, SHUNT_BR_S_OK);
	shunt_br_count(&a->run, SHUNT_BR_ACCEPTED);
	if (shunt_br_pump_framed(tcp, cn.fd, &a->run.bytes))
		shunt_br_count(&a->run, SHUNT_BR_ABORTED);
	shunt_br_spawned_done(&a->run);
	return NULL;
out:
	close(cn.fd);
	shunt_br_spawned_done(&a->run);
	return NULL;
}

static void accept_one(struct agent *a, int lfd, void *(*fn)(void *))
{
	struct conn *cn;
	int fd = shunt_br_accept(lfd);

	if (fd < 0)
		return;
	cn = malloc(sizeof(*cn));
	if (cn)
		*cn = (struct conn){ a, fd };
	if (!cn || shunt_br_spawn(&a->run, fn, cn)) {
		free(cn);
		pr_warn("bridge: %d connections already: one refused\n", a->run.max_conns);
		reset_close(fd);
	}
}

static int tcp_listen(int family, __u16 port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, one = 1, err;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if ((family == AF_INET ? bind(fd, (struct sockaddr *)&s4, sizeof(s4)) :
				 bind(fd, (struct sockaddr *)&s6, sizeof(s6))) ||
	    listen(fd, SOMAXCONN)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int shunt_bridge_agent(const char *pin_dir, const struct shunt_br_agent_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct pollfd pf[3];
	char xs[160];
	__u64 last_refresh = 0;
	bool have_watcher = false;
	pthread_t watcher;
	int err, n = 0;

	if (!a)
		return shunt_set_error(ENOMEM, "out of memory");
	a->o = o;
	a->watch_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->hb_lock, NULL);
	for (int i = 0; i < 3; i++)
		pf[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	err = shunt_open(&a->c, pin_dir);
	if (err)
		goto out_free;
	err = shunt_netns_cookie("", &a->netns);
	if (err)
		goto out;
	{
		struct shunt_br_agent w;

		if (shunt_br_agent_alive(&a->c, &w) && w.pid != (__u32)getpid() && !kill(w.pid, 0)) {
			err = shunt_set_error(EBUSY, "an agent (pid %u) already runs for %s", w.pid, pin_dir);
			goto out;
		}
	}
	shunt_br_raise_nofile();
	shunt_br_signals();
	shunt_br_run_init(&a->run, &a->c, o->max_conns);
	pf[0].fd = tcp_listen(AF_INET, o->port);
	pf[1].fd = tcp_listen(AF_INET6, o->port);
	if (pf[0].fd < 0) {
		err = shunt_set_error(-pf[0].fd, "listen on 127.0.0.1:%u: %s", o->port, strerror(-pf[0].fd));
		goto out;
	}
	if (pf[1].fd < 0)
		pr_warn("bridge: no IPv6 loopback (%s): IPv6 destinations stay on the network\n",
			strerror(-pf[1].fd));
	pf[2].fd = shunt_xport_listen_guest(&o->x, o->port);
	shunt_xport_format(&o->x, xs, sizeof(xs));
	if (pf[2].fd < 0) {
		err = shunt_set_error(-pf[2].fd, "listen on %s port %u: %s", xs, o->port,
				      pf[2].fd == -EAFNOSUPPORT || pf[2].fd == -ENODEV ?
				      "no vsock in this kernel or VM (a vsock device and vmw_vsock_virtio_transport)" :
				      strerror(-pf[2].fd));
		goto out;
	}
	pr_info("bridge: agent on 127.0.0.1:%u, transport %s, relay port %u\n", o->port, xs, o->relay_port);
	__atomic_store_n(&a->watch, 1, __ATOMIC_SEQ_CST);
	if (pthread_create(&watcher, NULL, watch_main, a)) {
		err = shunt_set_error(EAGAIN, "cannot start a thread");
		goto out;
	}
	have_watcher = true;
	while (!shunt_br_stopping()) {
		if (shunt_br_tick(&a->run)) {
			__u64 now = shunt_mono_ns();

			if (__atomic_load_n(&a->watch, __ATOMIC_SEQ_CST)) {
				heartbeat_tick(a);
			} else if (now - last_refresh >= (__u64)o->refresh_s * 1000000000ull ||
				   !relay_ok(a)) {
				/* no WATCH: the list every refresh, every tick while down */
				poll_list(a);
				last_refresh = now;
			} else {
				heartbeat_tick(a);
			}
		}
		n = poll(pf, 3, SHUNT_BR_POLL_MS);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; n > 0 && i < 3; i++)
			if (pf[i].fd >= 0 && (pf[i].revents & POLLIN))
				accept_one(a, pf[i].fd, i < 2 ? out_conn : in_conn);
	}
	pr_info("bridge: stopping\n");
	err = 0;
out:
	/* Steering off for good, the watcher woken and gone; live
	 * connections end with us. */
	pthread_mutex_lock(&a->hb_lock);
	__atomic_store_n(&a->closing, true, __ATOMIC_SEQ_CST);
	a->relay_ok = 0;
	if (have_watcher)	/* not another agent's word (EBUSY above) */
		heartbeat(a, false);
	if (a->watch_fd >= 0)
		shutdown(a->watch_fd, SHUT_RDWR);
	pthread_mutex_unlock(&a->hb_lock);
	if (have_watcher)
		pthread_join(watcher, NULL);
	for (int i = 0; i < 3; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	if (pf[2].fd >= 0 && o->x.kind == SHUNT_XP_UNIX)
		unlink(o->x.path);
	if (a->run.c)
		shunt_br_flush(&a->run);
	shunt_close(&a->c);
out_free:
	ep_table_free(&a->own);
	ep_table_free(&a->peers);
	free(a->last_list);
	free(a);
	return err;
}

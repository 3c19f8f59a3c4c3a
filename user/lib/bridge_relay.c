// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bridge relay, `shunt bridge --host`: the one place that knows every
 * VM (the patent's virtualization manager).  It serves each VM's agent
 * the endpoints of its networks from the host's endpoint table, and joins
 * two agents for a connection after checking it there: the destination
 * VM is known, the address is one of its endpoints in that network, and
 * the source VM (from the transport the request came on, never from the
 * request) has an endpoint in that network too.  After the header it only
 * moves bytes; the agents' framing passes through it untouched.  An agent
 * keeps a WATCH open to it: the list at every change, and its liveness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "bridge.h"
#include "internal.h"
#include "loader.h"
#include "log.h"

#define HDR_MS		5000
#define DIAL_MS		5000

struct relay {
	struct shunt_ctx c;
	const struct shunt_br_relay_opts *o;
	struct shunt_br_run run;
	int vsock_fd;
	/* The host's table as of cfg.seq: every table write bumps seq, so a
	 * request always checks against the table as it is now. */
	pthread_mutex_t lock;
	struct ep_table t;
	__u32 seq;
	bool have;
};

/* Locks r->lock and brings r->t up to date: 0, or -errno (unlocked). */
static int table_lock(struct relay *r)
{
	struct shunt_cfg cfg;
	struct ep_table t;
	int err;

	pthread_mutex_lock(&r->lock);
	err = shunt_get_cfg(&r->c, &cfg);
	if (!err && (!r->have || cfg.seq != r->seq)) {
		err = shunt_ep_read(&r->c, &t);
		if (!err) {
			ep_table_free(&r->t);
			r->t = t;
			r->seq = cfg.seq;
			r->have = true;
		}
	}
	if (err)
		pthread_mutex_unlock(&r->lock);
	return err;
}

struct rconn {
	struct relay *r;
	int fd;
	const struct shunt_br_vm *src;	/* NULL: a vsock peer not identified yet */
};

static const struct shunt_br_vm *vm_by_name(struct relay *r, const char *name)
{
	for (int i = 0; i < r->o->vms.n; i++)
		if (!strcmp(r->o->vms.v[i].name, name))
			return &r->o->vms.v[i];
	return NULL;
}

static const struct shunt_br_vm *vm_by_cid(struct relay *r, __u32 cid)
{
	for (int i = 0; i < r->o->vms.n; i++)
		if (r->o->vms.v[i].x.kind == SHUNT_XP_VSOCK && r->o->vms.v[i].x.cid == cid)
			return &r->o->vms.v[i];
	return NULL;
}

static bool in_network(const struct ep_table *t, const char *vm, const char *net)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->eps[i].vm, vm) && !strcmp(t->eps[i].network, net))
			return true;
	return false;
}

static int send_reply(int fd, int status, const char *text, const char *vm)
{
	struct shunt_br_reply rep;
	__u32 len = text ? strlen(text) : 0;
	int err;

	shunt_br_reply_fill(&rep, status, len, vm);
	err = shunt_write_full(fd, &rep, sizeof(rep), HDR_MS);
	if (!err && len)
		err = shunt_write_full(fd, text, len, HDR_MS);
	return err;
}

/* LIST: every VM endpoint of the networks the asking VM is in, as JSON. */
static char *list_json(const char *src, const struct ep_table *t)
{
	struct ep_table out = {};
	char *json;

	for (int i = 0; i < t->n; i++)
		if (t->eps[i].vm[0] && in_network(t, src, t->eps[i].network))
			ep_table_add(&out, &t->eps[i]);
	json = ep_table_to_json(&out);
	ep_table_free(&out);
	return json;
}

/* The list for @vm as the table is now: JSON, or NULL (logged). */
static char *current_list(struct relay *r, const char *vm)
{
	char *json;

	if (table_lock(r)) {
		pr_warn("bridge relay: %s\n", shunt_strerror());
		return NULL;
	}
	json = list_json(vm, &r->t);
	pthread_mutex_unlock(&r->lock);	/* never send under the lock */
	return json;
}

/*
 * WATCH: the list now, again at every change (the table is checked every
 * 250 ms), an empty reply every SHUNT_BR_KEEPALIVE_MS in between.  Until
 * the agent goes (its side readable: it sends nothing after WATCH), a
 * write fails, or we stop; a relay that dies ends it, which is how its
 * agents learn of it at once.
 */
#define WATCH_CHECK_MS	250

static void serve_watch(struct relay *r, int fd, const char *vm)
{
	__u64 last_sent = 0;
	__u32 last_seq = 0;
	char *last = NULL;

	while (!shunt_br_stopping()) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		__u64 now = shunt_mono_ns();
		struct shunt_cfg cfg;
		char *json = NULL;
		bool moved = !last;
		int err = 0;

		/* The list again only if the table moved (its seq, read
		 * before the list: a change in between shows next time). */
		if (shunt_get_cfg(&r->c, &cfg)) {
			moved = true;
		} else if (cfg.seq != last_seq) {
			moved = true;
			last_seq = cfg.seq;
		}
		if (moved && !(json = current_list(r, vm)))
			break;
		if (json && (!last || strcmp(json, last))) {
			err = send_reply(fd, SHUNT_BR_S_OK, json, vm);
			if (!err)
				shunt_br_count(&r->run, SHUNT_BR_LISTS);
			free(last);
			last = json;
			last_sent = now;
		} else {
			free(json);
			if (now - last_sent >= SHUNT_BR_KEEPALIVE_MS * 1000000ull) {
				err = send_reply(fd, SHUNT_BR_S_OK, NULL, vm);
				last_sent = now;
			}
		}
		if (err)
			break;
		err = poll(&pf, 1, WATCH_CHECK_MS);
		if (err > 0 || (err < 0 && errno != EINTR))
			break;
	}
	free(last);
}

/* OPEN, against the table: a status to reply if not OK. */
static int check_open(struct relay *r, const char *src, const struct shunt_br_hdr *h,
		      const struct ep_table *t)
{
	struct shunt_addr addr;
	bool ok = false;

	if (!vm_by_name(r, h->dst_vm))
		return SHUNT_BR_S_UNKNOWN_VM;
	shunt_br_hdr_addr(h, &addr);
	for (int i = 0; i < t->n && !ok; i++) {
		const struct endpoint *ep = &t->eps[i];

		if (strcmp(ep->vm, h->dst_vm) || strcmp(ep->network, h->network))
			continue;
		for (int j = 0; j < ep->naddrs && !ok; j++)
			ok = addr_equal(&ep->addrs[j], &addr);
	}
	if (!ok)
		return SHUNT_BR_S_NOT_EP;
	if (!in_network(t, src, h->network))
		return SHUNT_BR_S_NETWORK;
	return SHUNT_BR_S_OK;
}

static void *relay_conn(void *p)
{
	struct rconn rc = *(struct rconn *)p;
	struct relay *r = rc.r;
	struct shunt_br_hdr h;
	int err, status, dst = -1;

	free(p);
	if (!rc.src) {
		struct sockaddr_vm svm;
		socklen_t sl = sizeof(svm);

		if (getpeername(rc.fd, (struct sockaddr *)&svm, &sl) ||
		    !(rc.src = vm_by_cid(r, svm.svm_cid))) {
			shunt_br_count(&r->run, SHUNT_BR_REJ_UNKNOWN_VM);
			goto out;
		}
	}
	err = shunt_read_full(rc.fd, &h, sizeof(h), HDR_MS);
	if (err)
		goto out;
	if (shunt_br_hdr_check(&h, false)) {
		pr_warn("bridge relay: from %s: %s\n", rc.src->name, shunt_strerror());
		shunt_br_count(&r->run, SHUNT_BR_REJ_HEADER);
		send_reply(rc.fd, SHUNT_BR_S_BAD_HEADER, NULL, NULL);
		goto out;
	}
	if (h.type == SHUNT_BR_T_WATCH) {
		serve_watch(r, rc.fd, rc.src->name);
		goto out;
	}
	if (h.type == SHUNT_BR_T_LIST) {
		char *json = current_list(r, rc.src->name);

		if (json && !send_reply(rc.fd, SHUNT_BR_S_OK, json, rc.src->name))
			shunt_br_count(&r->run, SHUNT_BR_LISTS);
		free(json);
		goto out;
	}
	if (table_lock(r)) {
		pr_warn("bridge relay: %s\n", shunt_strerror());
		goto out;
	}
	status = check_open(r, rc.src->name, &h, &r->t);
	pthread_mutex_unlock(&r->lock);
	if (status == SHUNT_BR_S_OK) {
		dst = shunt_xport_dial_guest(&vm_by_name(r, h.dst_vm)->x, r->o->port, DIAL_MS);
		if (dst < 0)
			status = SHUNT_BR_S_DST_DOWN;
	}
	if (status != SHUNT_BR_S_OK) {
		shunt_br_count(&r->run, shunt_br_status_stat(status));
		send_reply(rc.fd, status, NULL, NULL);
		goto out;
	}
	/* Stamped here, from the transport: who the source is. */
	snprintf(h.src_vm, sizeof(h.src_vm), "%s", rc.src->name);
	if (shunt_write_full(dst, &h, sizeof(h), HDR_MS)) {
		shunt_br_count(&r->run, SHUNT_BR_DST_DOWN);
		send_reply(rc.fd, SHUNT_BR_S_DST_DOWN, NULL, NULL);
		close(dst);
		goto out;
	}
	shunt_br_count(&r->run, SHUNT_BR_RELAYED);
	shunt_br_pump_raw(rc.fd, dst);	/* the destination agent's reply passes through */
	shunt_br_spawned_done(&r->run);
	return NULL;
out:
	close(rc.fd);
	shunt_br_spawned_done(&r->run);
	return NULL;
}

int shunt_bridge_relay(const char *pin_dir, const struct shunt_br_relay_opts *o)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct shunt_br_vms *vms = (struct shunt_br_vms *)&o->vms;
	struct pollfd *pf = NULL;
	int err = 0, npf = 0;

	if (!r)
		return shunt_set_error(ENOMEM, "out of memory");
	r->o = o;
	r->vsock_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	if (!vms->n) {
		free(r);
		return shunt_set_error(EINVAL, "no VMs: give --vms FILE or --vm NAME=TRANSPORT");
	}
	err = shunt_open(&r->c, pin_dir);
	if (err) {
		free(r);
		return err;
	}
	shunt_br_signals();
	shunt_br_raise_nofile();
	shunt_br_run_init(&r->run, &r->c, o->max_conns);
	pf = calloc(vms->n + 1, sizeof(*pf));
	if (!pf) {
		err = shunt_set_error(ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < vms->n; i++) {
		struct shunt_br_vm *vm = &vms->v[i];
		char xs[160];
		int fd;

		vm->listen_fd = -1;
		if (vm->x.kind == SHUNT_XP_VSOCK && r->vsock_fd >= 0)
			continue;
		fd = shunt_xport_listen_host(&vm->x, o->relay_port);
		shunt_xport_format(&vm->x, xs, sizeof(xs));
		if (fd < 0) {
			err = shunt_set_error(-fd, "VM %s (%s): listen on port %u: %s", vm->name, xs,
					      o->relay_port,
					      fd == -EAFNOSUPPORT || fd == -ENODEV || fd == -EADDRNOTAVAIL ?
					      "no vhost-vsock on this host (modprobe vhost_vsock)" : strerror(-fd));
			goto out;
		}
		if (vm->x.kind == SHUNT_XP_VSOCK)
			r->vsock_fd = fd;
		else
			vm->listen_fd = fd;
		pf[npf++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	pr_info("bridge relay: %d VM(s), agents on port %u, relay port %u\n", vms->n, o->port, o->relay_port);
	while (!shunt_br_stopping()) {
		int n;

		shunt_br_tick(&r->run);
		n = poll(pf, npf, SHUNT_BR_POLL_MS);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; n > 0 && i < npf; i++) {
			struct rconn *rc;
			int fd;

			if (!(pf[i].revents & POLLIN))
				continue;
			fd = shunt_br_accept(pf[i].fd);
			if (fd < 0)
				continue;
			rc = malloc(sizeof(*rc));
			if (rc) {
				*rc = (struct rconn){ r, fd, NULL };
				for (int v = 0; v < vms->n; v++)
					if (vms->v[v].listen_fd == pf[i].fd)
						rc->src = &vms->v[v];
			}
			if (!rc || shunt_br_spawn(&r->run, relay_conn, rc)) {
				free(rc);
				close(fd);
			}
		}
	}
	pr_info("bridge relay: stopping\n");
out:
	for (int i = 0; i < npf; i++)
		close(pf[i].fd);
	for (int i = 0; i < vms->n; i++)
		if (vms->v[i].x.kind != SHUNT_XP_VSOCK) {
			char path[sizeof(vms->v[i].x.path) + 16];

			snprintf(path, sizeof(path), "%s_%u", vms->v[i].x.path, o->relay_port);
			unlink(path);
		}
	free(pf);
	shunt_br_flush(&r->run);
	shunt_close(&r->c);
	ep_table_free(&r->t);
	free(r);
	return err;
}

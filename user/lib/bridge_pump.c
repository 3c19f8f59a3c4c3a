// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Moving a bridged connection's bytes in user space: splice(2) through a
 * pipe per direction (the payload is not copied to user memory), one
 * thread per direction, blocking only in poll() on the socket it waits
 * for and on an abort eventfd, so that either direction can stop the
 * other at once.  Memory per hop is bounded by the pipe (64 KiB) and the
 * sockets' buffers: a stalled reader stops the writer, hop by hop.
 *
 * Framed (agent): see bridge.h.  A clean end needs a FIN each way; any
 * other end resets the TCP socket (SO_LINGER {1, 0}, armed from the
 * start so that even a killed agent resets rather than closes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "bridge.h"

#define CHUNK	65536

struct pump {
	int tcp, x;		/* raw: a, b */
	int abort_ev, done_ev;
	int enc_done, fin_recv;	/* __atomic */
	struct shunt_br_bytes *bytes;
};

struct dir {
	struct pump *p;
	int src, dst;
	int pipe[2];
	bool splice_ok;
	char buf[CHUNK];	/* when splice does not work on a socket type */
	int ret;
};

static void signal_ev(int fd)
{
	__u64 one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only at 2^64-1: cannot happen here */
	}
}

/*
 * Waits for @ev on @fd (0: only its POLLERR and POLLHUP), for the abort
 * eventfd and, with @done, for done_ev.  Returns @fd's revents (non-zero),
 * 0 if done_ev fired, -1 if aborted.
 */
static int wait_ev(struct pump *p, int fd, short ev, bool done)
{
	struct pollfd pf[3] = {
		{ .fd = fd, .events = ev },
		{ .fd = p->abort_ev, .events = POLLIN },
		{ .fd = done ? p->done_ev : -1, .events = POLLIN },
	};

	for (;;) {
		int n = poll(pf, 3, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (pf[1].revents & POLLIN))
			return -1;
		if (pf[2].revents & POLLIN)
			return 0;
		if (pf[0].revents)
			return pf[0].revents;
	}
}

/* 0: @fd is ready; -1: aborted. */
static int wait_fd(struct pump *p, int fd, short ev)
{
	return wait_ev(p, fd, ev, false) < 0 ? -1 : 0;
}

static int send_all(struct pump *p, int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			buf = (const char *)buf + n;
			len -= n;
		} else if (n < 0 && errno == EAGAIN) {
			if (wait_fd(p, fd, POLLOUT))
				return -1;
		} else if (!(n < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

/*
 * Reads up to @max bytes from d->src into the pipe (or d->buf): the count,
 * 0 at EOF, -1 on error or abort.
 */
static ssize_t take(struct dir *d, size_t max)
{
	for (;;) {
		ssize_t n;

		if (d->splice_ok) {
			n = splice(d->src, NULL, d->pipe[1], NULL, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n < 0 && errno == EINVAL) {
				d->splice_ok = false;	/* this socket type cannot splice_read */
				continue;
			}
		} else {
			n = recv(d->src, d->buf, max < CHUNK ? max : CHUNK, MSG_DONTWAIT);
		}
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_fd(d->p, d->src, POLLIN))
			return -1;
	}
}

/* Writes the @n bytes take() got to d->dst: 0, or -1. */
static int give(struct dir *d, size_t n)
{
	if (!d->splice_ok)
		return send_all(d->p, d->dst, d->buf, n);
	while (n) {
		ssize_t k = splice(d->pipe[0], NULL, d->dst, NULL, n, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (k > 0) {
			n -= k;
		} else if (k < 0 && errno == EAGAIN) {
			if (wait_fd(d->p, d->dst, POLLOUT))
				return -1;
		} else if (!(k < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

static void count(__u64 *c, __u64 n)
{
	if (c)
		__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/*
 * After our FIN went, until the other direction ends too: the application's
 * socket is watched for an error only (an RST it sent after its own
 * half-close must reach the other end now, as it would over TCP, not at
 * that end's next send).  POLLHUP alone is our own shutdown after the
 * peer's FIN (fin_recv is set before it): clean.
 */
static int encode_after_fin(struct dir *d)
{
	struct pump *p = d->p;

	for (;;) {
		int r;

		if (__atomic_load_n(&p->fin_recv, __ATOMIC_SEQ_CST)) {
			signal_ev(p->done_ev);
			return 0;
		}
		r = wait_ev(p, d->src, 0, true);	/* POLLERR and POLLHUP only */
		if (r <= 0)
			return r;
		if ((r & (POLLERR | POLLNVAL)) ||
		    ((r & POLLHUP) && !__atomic_load_n(&p->fin_recv, __ATOMIC_SEQ_CST)))
			return -1;
	}
}

/* Application to transport: DATA frames, then FIN at the application's EOF. */
static int encode(struct dir *d)
{
	struct pump *p = d->p;

	for (;;) {
		ssize_t n = take(d, CHUNK);
		__u32 w;

		if (n < 0)
			return -1;
		if (n == 0) {
			/* Set before the FIN goes: the peer may answer it at once. */
			__atomic_store_n(&p->enc_done, 1, __ATOMIC_SEQ_CST);
			w = shunt_br_frame(SHUNT_BR_F_FIN, 0);
			if (send_all(p, d->dst, &w, sizeof(w)))
				return -1;
			return encode_after_fin(d);
		}
		w = shunt_br_frame(SHUNT_BR_F_DATA, n);
		if (send_all(p, d->dst, &w, sizeof(w)) || give(d, n))
			return -1;
		count(p->bytes ? &p->bytes->out : NULL, n);
	}
}

/* Exactly @len bytes from @fd into @buf; 1 at EOF before the first byte. */
static int recv_exact(struct pump *p, int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);

		if (n > 0)
			got += n;
		else if (n == 0)
			return got ? -1 : 1;
		else if (errno == EAGAIN) {
			if (wait_fd(p, fd, POLLIN))
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/*
 * After the peer's FIN nothing more may come: wait until our own direction
 * is done too (done_ev), or the transport ends; ending while we still
 * send means the peer is gone: a reset.
 */
static int after_fin(struct dir *d)
{
	struct pump *p = d->p;
	int r;

	if (__atomic_load_n(&p->enc_done, __ATOMIC_SEQ_CST))
		return 0;
	r = wait_ev(p, d->src, POLLIN, true);
	if (r <= 0)
		return r;
	return __atomic_load_n(&p->enc_done, __ATOMIC_SEQ_CST) ? 0 : -1;
}

/* Transport to application. */
static int decode(struct dir *d)
{
	struct pump *p = d->p;

	for (;;) {
		__u32 w, len;
		int r = recv_exact(p, d->src, &w, sizeof(w));

		if (r)
			return -1;	/* EOF without FIN: the other end is gone */
		w = ntohl(w);
		len = w & 0xffffff;
		switch (w >> 24) {
		case SHUNT_BR_F_DATA:
			if (!len || len > SHUNT_BR_FRAME_MAX)
				return -1;
			while (len) {
				ssize_t n = take(d, len < CHUNK ? len : CHUNK);

				if (n <= 0 || give(d, n))
					return -1;
				count(p->bytes ? &p->bytes->in : NULL, n);
				len -= n;
			}
			break;
		case SHUNT_BR_F_FIN:
			if (len)
				return -1;
			/* fin_recv before the shutdown: encode_after_fin takes
			 * the POLLHUP the shutdown causes for clean */
			__atomic_store_n(&p->fin_recv, 1, __ATOMIC_SEQ_CST);
			shutdown(d->dst, SHUT_WR);
			if (__atomic_load_n(&p->enc_done, __ATOMIC_SEQ_CST))
				signal_ev(p->done_ev);
			return after_fin(d);
		default:
			return -1;
		}
	}
}

/* Raw: bytes until EOF, which becomes a shutdown of the other side. */
static int copy_raw(struct dir *d)
{
	for (;;) {
		ssize_t n = take(d, CHUNK);

		if (n < 0)
			return -1;
		if (n == 0) {
			shutdown(d->dst, SHUT_WR);
			return 0;
		}
		if (give(d, n))
			return -1;
	}
}

static int (*const dir_fn[])(struct dir *) = { encode, decode, copy_raw };

struct dir_arg {
	struct dir *d;
	int fn;
};

static void *dir_main(void *arg)
{
	struct dir_arg *a = arg;

	a->d->ret = dir_fn[a->fn](a->d);
	if (a->d->ret)
		signal_ev(a->d->p->abort_ev);
	return NULL;
}

static struct dir *dir_new(struct pump *p, int src, int dst)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->p = p;
	d->src = src;
	d->dst = dst;
	d->splice_ok = !pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK);
	if (!d->splice_ok)
		d->pipe[0] = d->pipe[1] = -1;
	return d;
}

static void dir_free(struct dir *d)
{
	if (!d)
		return;
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	free(d);
}

/* Runs fn_a (a→b) here and fn_b (b→a) in a thread: 0 if both ended cleanly. */
static int run(struct pump *p, int fn_a, int fn_b)
{
	struct dir *da = dir_new(p, p->tcp, p->x), *db = dir_new(p, p->x, p->tcp);
	struct dir_arg aa = { da, fn_a }, ab = { db, fn_b };
	pthread_attr_t attr;
	pthread_t t;
	int ret = -1;

	p->abort_ev = eventfd(0, EFD_CLOEXEC);
	p->done_ev = eventfd(0, EFD_CLOEXEC);
	if (!da || !db || p->abort_ev < 0 || p->done_ev < 0)
		goto out;
	fcntl(p->tcp, F_SETFL, fcntl(p->tcp, F_GETFL) | O_NONBLOCK);
	fcntl(p->x, F_SETFL, fcntl(p->x, F_GETFL) | O_NONBLOCK);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, dir_main, &ab)) {
		pthread_attr_destroy(&attr);
		goto out;
	}
	pthread_attr_destroy(&attr);
	dir_main(&aa);
	pthread_join(t, NULL);
	ret = da->ret || db->ret ? -1 : 0;
out:
	dir_free(da);
	dir_free(db);
	if (p->abort_ev >= 0)
		close(p->abort_ev);
	if (p->done_ev >= 0)
		close(p->done_ev);
	return ret;
}

void shunt_br_arm_reset(int tcp)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(tcp, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

int shunt_br_pump_framed(int tcp, int x, struct shunt_br_bytes *b)
{
	struct pump p = { .tcp = tcp, .x = x, .bytes = b, .abort_ev = -1, .done_ev = -1 };
	int ret = run(&p, 0, 1);

	if (!ret) {
		/* Clean: a normal close, which still delivers what is queued. */
		struct linger l = { 0 };

		setsockopt(tcp, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(tcp);	/* else with SO_LINGER {1, 0}: an RST */
	close(x);
	return ret;
}

int shunt_br_pump_raw(int a, int b)
{
	struct pump p = { .tcp = a, .x = b, .abort_ev = -1, .done_ev = -1 };
	int ret = run(&p, 2, 2);

	close(a);
	close(b);
	return ret;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the bridge agent and relay share: counters, signals, threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge.h"
#include "internal.h"
#include "loader.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

void shunt_br_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool shunt_br_stopping(void)
{
	return stop;
}

void shunt_br_run_init(struct shunt_br_run *r, struct shunt_ctx *c, int max_conns)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->max_conns = max_conns;
	for (__u32 i = SHUNT_BR_USER; vals && i < SHUNT_BR_MAX; i++)
		if (!bpf_map_lookup_elem(c->br_stats_fd, &i, vals))
			r->base[i] = vals[0];
	free(vals);
}

void shunt_br_count(struct shunt_br_run *r, int stat)
{
	__atomic_fetch_add(&r->cnt[stat], 1, __ATOMIC_RELAXED);
}

void shunt_br_flush(struct shunt_br_run *r)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;

	r->cnt[SHUNT_BR_BYTES_OUT] = __atomic_load_n(&r->bytes.out, __ATOMIC_RELAXED);
	r->cnt[SHUNT_BR_BYTES_IN] = __atomic_load_n(&r->bytes.in, __ATOMIC_RELAXED);
	for (__u32 i = SHUNT_BR_USER; vals && i < SHUNT_BR_MAX; i++) {
		vals[0] = r->base[i] + __atomic_load_n(&r->cnt[i], __ATOMIC_RELAXED);
		bpf_map_update_elem(r->c->br_stats_fd, &i, vals, BPF_ANY);
	}
	free(vals);
}

bool shunt_br_tick(struct shunt_br_run *r)
{
	__u64 now = shunt_mono_ns();

	if (now - r->last_tick < 1000000000ull)
		return false;
	r->last_tick = now;
	shunt_br_flush(r);
	return true;
}

int shunt_br_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		usleep(10000);
	return fd;
}

struct spawned {
	struct shunt_br_run *r;
	void *(*fn)(void *);
	void *arg;
};

static void *spawned_main(void *p)
{
	struct spawned s = *(struct spawned *)p;

	free(p);
	s.fn(s.arg);
	return NULL;
}

int shunt_br_spawn(struct shunt_br_run *r, void *(*fn)(void *), void *arg)
{
	struct spawned *s;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (__atomic_add_fetch(&r->conns, 1, __ATOMIC_SEQ_CST) > r->max_conns) {
		__atomic_sub_fetch(&r->conns, 1, __ATOMIC_SEQ_CST);
		return -EAGAIN;
	}
	s = malloc(sizeof(*s));
	if (!s) {
		__atomic_sub_fetch(&r->conns, 1, __ATOMIC_SEQ_CST);
		return -ENOMEM;
	}
	*s = (struct spawned){ r, fn, arg };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&t, &attr, spawned_main, s);
	pthread_attr_destroy(&attr);
	if (err) {
		free(s);
		__atomic_sub_fetch(&r->conns, 1, __ATOMIC_SEQ_CST);
		return -err;
	}
	return 0;
}

void shunt_br_spawned_done(struct shunt_br_run *r)
{
	__atomic_sub_fetch(&r->conns, 1, __ATOMIC_SEQ_CST);
}

bool shunt_br_agent_alive(struct shunt_ctx *c, struct shunt_br_agent *ag)
{
	__u32 zero = 0;

	memset(ag, 0, sizeof(*ag));
	return !bpf_map_lookup_elem(c->br_agent_fd, &zero, ag) && ag->port &&
	       shunt_mono_ns() - ag->heartbeat_ns < SHUNT_BR_HEARTBEAT_NS;
}

/* Each bridged connection holds about 8 fds per process (two sockets, two
 * pipes, two eventfds): the soft limit of 1024 would cap it near 128. */
void shunt_br_raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

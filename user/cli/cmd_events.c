// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt events: shunt's decisions as they happen, like `cilium monitor`:
 * a connection classified (a candidate, or TCP and why), its first
 * redirect, a direction left on TCP, flow-control detours and resumes, a
 * socket leaving the sockhash, a kernel_eagain hit.  Never one per message.
 * Each reader has its own ring (several can listen at once); drops are
 * counted and printed ("N events lost").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "events.h"
#include "log.h"
#include "names.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct ev_out {
	struct shunt_ctx *c;
	struct names n;
	bool json;
	long count, seen;
	__u64 names_seq;
};

/* Names of endpoints registered after we started: reload when unknown. */
static const struct endpoint *ep_of(struct ev_out *o, __u32 id)
{
	const struct endpoint *ep = names_ep(&o->n, id);

	if (!ep && id) {
		names_free(&o->n);
		if (names_load(o->c, &o->n))
			memset(&o->n, 0, sizeof(o->n));
		ep = names_ep(&o->n, id);
	}
	return ep;
}

static int on_event(void *ctx, const struct shunt_event *ev)
{
	struct ev_out *o = ctx;
	const struct endpoint *a = ep_of(o, ev->ep_id), *b = ep_of(o, ev->peer_ep_id);
	const char *reason = ev->reason < SHUNT_ST_MAX ? names_reason(ev->reason) : "";

	if (o->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "ts_ns", json_object_new_uint64(ev->ts_ns));
		json_object_object_add(j, "event", json_object_new_string(shunt_event_name(ev->type)));
		if (reason[0])
			json_object_object_add(j, "reason", json_object_new_string(reason));
		json_object_object_add(j, "network", json_object_new_string(names_net(&o->n, ev->key.net_id)));
		json_object_object_add(j, "net_id", json_object_new_int64(ev->key.net_id));
		json_object_object_add(j, "netns_cookie", json_object_new_uint64(ev->key.netns));
		json_object_object_add(j, "role", json_object_new_string(ev->active ? "active" : "passive"));
		json_object_object_add(j, "local", names_end_json(&o->n, ev->ep_id, &ev->key, 1));
		json_object_object_add(j, "remote", names_end_json(&o->n, ev->peer_ep_id, &ev->key, 0));
		if (ev->type == SHUNT_EV_DETOUR)
			json_object_object_add(j, "queued", json_object_new_uint64(ev->value));
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		char l[64], r[64], q[40] = "";

		names_addr_port(&ev->key.laddr, ev->key.lport, l, sizeof(l));
		names_addr_port(&ev->key.raddr, ev->key.rport, r, sizeof(r));
		if (ev->type == SHUNT_EV_DETOUR)
			snprintf(q, sizeof(q), " queued %llu", (unsigned long long)ev->value);
		printf("%-14s %-22s %-10s %s %s -> %s %s%s%s\n", shunt_event_name(ev->type),
		       reason[0] ? reason : (ev->type == SHUNT_EV_CLASSIFIED ? "candidate" : "-"),
		       names_net(&o->n, ev->key.net_id), a ? a->name : "-", l, b ? b->name : "-", r,
		       ev->active ? "" : " (passive end)", q);
	}
	fflush(stdout);
	o->seen++;
	if (o->count && o->seen >= o->count)
		stop = 1;
	return stop ? 1 : 0;
}

int cmd_events(struct cli_env *env, int argc, char **argv)
{
	struct ev_out o = { .json = env->json };
	struct shunt_ev_sub sub;
	struct shunt_ctx c;
	struct timespec t0, t;
	double duration = 0;
	int err;

	for (int i = 0; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			o.count = strtol(argv[++i], &end, 10);
			if (*end || o.count <= 0)
				goto usage;
		} else if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
			duration = strtod(argv[++i], &end);
			if (*end || duration <= 0)
				goto usage;
		} else {
			goto usage;
		}
	}
	err = cli_open(env, &c);
	if (err)
		return err;
	o.c = &c;
	names_load(&c, &o.n);
	err = shunt_events_subscribe(&c, &sub, on_event, &o);
	if (err) {
		names_free(&o.n);
		shunt_close(&c);
		return cli_fail(err);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	/* Ready: tests and scripts wait for this line before they connect. */
	fprintf(stderr, "listening for events on %s (slot %d)\n", env->pin_dir, sub.slot);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		__u64 lost = 0;

		err = shunt_events_poll(&sub, 250, &lost);
		if (err < 0)
			break;
		err = 0;
		if (lost) {
			if (o.json)
				printf("{\"event\":\"lost\",\"count\":%llu}\n", (unsigned long long)lost);
			else
				printf("%llu events lost\n", (unsigned long long)lost);
			fflush(stdout);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (duration && (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
			break;
	}
	shunt_events_unsubscribe(&sub);
	names_free(&o.n);
	shunt_close(&c);
	return err ? cli_fail(err) : 0;
usage:
	pr_warn("usage: shunt events [--count N] [--duration SECS]\n");
	return 2;
}

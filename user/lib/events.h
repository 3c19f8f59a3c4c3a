/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Subscribing to shunt's event stream (`shunt events`): each reader owns a
 * slot of shunt_ev_rings with a ring buffer of its own, and keeps the
 * slot's heartbeat fresh while it reads (see struct shunt_ev_reader).
 */
#ifndef SHUNT_EVENTS_H
#define SHUNT_EVENTS_H

#include "loader.h"

struct ring_buffer;

typedef int (*shunt_event_fn)(void *ctx, const struct shunt_event *ev);

struct shunt_ev_sub {
	struct shunt_ctx *c;
	int slot;
	int ring_fd;
	struct ring_buffer *rb;
	shunt_event_fn fn;
	void *ctx;
	__u64 lost_seen;
};

/* Takes a free (or abandoned) slot, under the writers' lock briefly. */
int shunt_events_subscribe(struct shunt_ctx *c, struct shunt_ev_sub *s,
			   shunt_event_fn fn, void *ctx);
/* Waits up to @timeout_ms for events, calls fn for each, refreshes the
 * heartbeat; returns events seen or -errno.  *lost: dropped since last call. */
int shunt_events_poll(struct shunt_ev_sub *s, int timeout_ms, __u64 *lost);
void shunt_events_unsubscribe(struct shunt_ev_sub *s);
const char *shunt_event_name(__u32 type);

#endif

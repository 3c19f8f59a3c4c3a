// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The event stream's reader side.  BPF writes an event to every slot whose
 * heartbeat is younger than SHUNT_EV_HEARTBEAT_NS, so a reader must beat
 * more often than that (every poll, at most every 500 ms), and a slot whose
 * beat is older than twice that is abandoned (its reader was killed): the
 * next subscriber takes it over, dropping the old ring with it.
 */
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "internal.h"

static const char *const ev_names[SHUNT_EV_MAX] = {
	[SHUNT_EV_CLASSIFIED]	= "classified",
	[SHUNT_EV_REDIRECTED]	= "redirected",
	[SHUNT_EV_DIR_TCP]	= "direction_tcp",
	[SHUNT_EV_DETOUR]	= "fc_detour",
	[SHUNT_EV_RESUME]	= "fc_resume",
	[SHUNT_EV_LEAVE]	= "left_sockhash",
	[SHUNT_EV_EAGAIN]	= "kernel_eagain",
};

const char *shunt_event_name(__u32 type)
{
	return type < SHUNT_EV_MAX && ev_names[type] ? ev_names[type] : "unknown";
}

static int beat(struct shunt_ev_sub *s, __u64 *lost)
{
	__u64 now = shunt_mono_ns(), n = 0;
	__u32 k = s->slot;

	if (!bpf_map_lookup_elem(s->c->ev_lost_fd, &k, &n) && lost) {
		*lost = n - s->lost_seen;
		s->lost_seen = n;
	}
	if (bpf_map_update_elem(s->c->ev_readers_fd, &k, &now, BPF_EXIST))
		return -errno;
	return 0;
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct shunt_ev_sub *s = ctx;

	if (len < sizeof(struct shunt_event))
		return 0;
	return s->fn(s->ctx, data);
}

int shunt_events_subscribe(struct shunt_ctx *c, struct shunt_ev_sub *s,
			   shunt_event_fn fn, void *ctx)
{
	__u64 now = shunt_mono_ns();
	int err, slot = -1;

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->fn = fn;
	s->ctx = ctx;
	s->slot = -1;
	s->ring_fd = -1;
	err = shunt_flock(c->lock_fd, LOCK_EX, SHUNT_LOCK_WAIT_MS, c->pin_dir);
	if (err)
		return err;
	for (__u32 i = 0; i < SHUNT_EV_READERS && slot < 0; i++) {
		__u64 hb;

		if (bpf_map_lookup_elem(c->ev_readers_fd, &i, &hb))
			continue;
		if (!hb || now - hb > 2 * SHUNT_EV_HEARTBEAT_NS)
			slot = i;
	}
	if (slot < 0) {
		err = shunt_set_error(EBUSY, "%d event readers already listen (the most there can be)",
				      SHUNT_EV_READERS);
		goto out;
	}
	s->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "shunt_ev_ring", 0, 0,
				    SHUNT_EV_RING_SIZE, NULL);
	if (s->ring_fd < 0) {
		err = shunt_set_error(errno, "create event ring: %s", strerror(errno));
		goto out;
	}
	{
		__u64 hb = shunt_mono_ns();
		__u32 k = slot;

		/* Count losses from here: what the slot's last reader lost is its. */
		bpf_map_lookup_elem(c->ev_lost_fd, &k, &s->lost_seen);
		if (bpf_map_update_elem(c->ev_rings_fd, &k, &s->ring_fd, BPF_ANY) ||
		    bpf_map_update_elem(c->ev_readers_fd, &k, &hb, BPF_ANY)) {
			err = shunt_set_error(errno, "take event slot %d: %s", slot, strerror(errno));
			goto out;
		}
	}
	s->slot = slot;
	s->rb = ring_buffer__new(s->ring_fd, on_sample, s, NULL);
	if (!s->rb)
		err = shunt_set_error(errno, "event ring: %s", strerror(errno));
out:
	flock(c->lock_fd, LOCK_UN);
	if (err)
		shunt_events_unsubscribe(s);
	return err;
}

int shunt_events_poll(struct shunt_ev_sub *s, int timeout_ms, __u64 *lost)
{
	int n;

	if (timeout_ms > 500)
		timeout_ms = 500;
	n = ring_buffer__poll(s->rb, timeout_ms);
	if (n < 0 && n != -EINTR)
		return shunt_set_error(n, "read events: %s", strerror(-n));
	if (beat(s, lost))
		return shunt_set_error(errno, "event slot %d: %s", s->slot, strerror(errno));
	return n < 0 ? 0 : n;
}

void shunt_events_unsubscribe(struct shunt_ev_sub *s)
{
	if (s->slot >= 0) {
		__u64 zero = 0;
		__u32 k = s->slot;

		bpf_map_update_elem(s->c->ev_readers_fd, &k, &zero, BPF_ANY);
		bpf_map_delete_elem(s->c->ev_rings_fd, &k);
	}
	ring_buffer__free(s->rb);
	if (s->ring_fd >= 0)
		close(s->ring_fd);
	s->rb = NULL;
	s->ring_fd = -1;
	s->slot = -1;
}

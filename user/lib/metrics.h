/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An instance's state in the Prometheus text exposition format, version
 * 0.0.4: what `shunt metrics` prints, writes for node_exporter's textfile
 * collector, and serves on /metrics.
 *
 * The emitter is the one place that knows the format: a family is opened
 * with its name, type and help (one HELP and one TYPE line), then its
 * samples follow, each with its labels; label values and help text are
 * escaped here.  A new family is one shunt_metrics_family() call followed
 * by a shunt_metrics_sample() per series; a new counter of the instance or
 * of an endpoint (labels endpoint and network) is one row of a table in
 * metrics.c.
 */
#ifndef SHUNT_METRICS_H
#define SHUNT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum shunt_metric_type {
	SHUNT_METRIC_COUNTER,	/* name ends in _total */
	SHUNT_METRIC_GAUGE,
};

struct shunt_metric_label {
	const char *name;	/* [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value;	/* any UTF-8: escaped on output */
};

/* A growing text buffer; an allocation failure is kept and reported once,
 * by shunt_metrics_collect() (or checked by the caller in @oom). */
struct shunt_metrics {
	char *buf;
	size_t len, cap;
	bool oom;
	char family[128];	/* the open family's name; "": none */
};

void shunt_metrics_init(struct shunt_metrics *m);
void shunt_metrics_free(struct shunt_metrics *m);
/* Hands the text (NUL-terminated, malloc'd) to the caller; @m is reset. */
char *shunt_metrics_take(struct shunt_metrics *m, size_t *len);

/* Opens a family: its HELP and TYPE lines.  Every family is opened once,
 * and all its samples follow it before the next one opens. */
void shunt_metrics_family(struct shunt_metrics *m, const char *name,
			  enum shunt_metric_type type, const char *help);
/* A sample of the open family; @labels ends with { NULL }, or is NULL. */
void shunt_metrics_sample(struct shunt_metrics *m, const struct shunt_metric_label *labels,
			  __u64 value);

/*
 * The whole exposition for the instance pinned at @pin_dir, read without
 * the lock (readers never block writers).  Always emits shunt_up and
 * shunt_build_info; @up says whether the instance could be read.  Returns
 * 0 when it was (the rest of the families follow), else -errno with the
 * reason in shunt_strerror(): -ENOENT when nothing is loaded there.  The
 * text in @m is valid in both cases (shunt_up 0 when not), unless @m->oom.
 */
int shunt_metrics_collect(struct shunt_metrics *m, const char *pin_dir, bool *up);

#endif

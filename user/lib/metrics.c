// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt metrics: the instance's state in the Prometheus text exposition
 * format 0.0.4, named the node_exporter way (prefix shunt_, counters end in
 * _total, bytes in _bytes_total, HELP and TYPE for every family).  What is
 * exposed and why it is named so is the table below and the README's
 * Metrics section; the format itself is only in the emitter.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature.h"
#include "loader.h"
#include "bridge.h"
#include "metrics.h"

/* --- the emitter ---------------------------------------------------------- */

void shunt_metrics_init(struct shunt_metrics *m)
{
	memset(m, 0, sizeof(*m));
}

void shunt_metrics_free(struct shunt_metrics *m)
{
	free(m->buf);
	shunt_metrics_init(m);
}

char *shunt_metrics_take(struct shunt_metrics *m, size_t *len)
{
	char *buf = m->buf;

	if (len)
		*len = m->len;
	shunt_metrics_init(m);
	return buf;
}

static bool grow(struct shunt_metrics *m, size_t more)
{
	size_t cap = m->cap ? m->cap : 4096;
	char *p;

	if (m->oom)
		return false;
	if (m->len + more + 1 <= m->cap)
		return true;
	while (cap < m->len + more + 1)
		cap *= 2;
	p = realloc(m->buf, cap);
	if (!p) {
		m->oom = true;
		return false;
	}
	m->buf = p;
	m->cap = cap;
	return true;
}

static void put(struct shunt_metrics *m, const char *s, size_t n)
{
	if (!grow(m, n))
		return;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = 0;
}

static void putf(struct shunt_metrics *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct shunt_metrics *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(m, n))
		return;
	va_start(ap, fmt);
	vsnprintf(m->buf + m->len, n + 1, fmt, ap);
	va_end(ap);
	m->len += n;
}

/*
 * The exposition format's escapes: in HELP text backslash and line feed, in
 * a label value also the double quote.  Nothing else is special (values are
 * UTF-8; an endpoint name cannot hold these characters today, but network
 * names and the version string come from elsewhere, and a later label may
 * carry a path).
 */
static void put_escaped(struct shunt_metrics *m, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(m, "\\\\", 2);
		else if (*s == '\n')
			put(m, "\\n", 2);
		else if (*s == '"' && quote)
			put(m, "\\\"", 2);
		else
			put(m, s, 1);
	}
}

void shunt_metrics_family(struct shunt_metrics *m, const char *name,
			  enum shunt_metric_type type, const char *help)
{
	snprintf(m->family, sizeof(m->family), "%s", name);
	putf(m, "# HELP %s ", name);
	put_escaped(m, help, false);
	putf(m, "\n# TYPE %s %s\n", name, type == SHUNT_METRIC_COUNTER ? "counter" : "gauge");
}

void shunt_metrics_sample(struct shunt_metrics *m, const struct shunt_metric_label *labels,
			  __u64 value)
{
	put(m, m->family, strlen(m->family));
	for (int i = 0; labels && labels[i].name; i++) {
		putf(m, "%s%s=\"", i ? "," : "{", labels[i].name);
		put_escaped(m, labels[i].value, true);
		put(m, "\"", 1);
		if (!labels[i + 1].name)
			put(m, "}", 1);
	}
	putf(m, " %llu\n", (unsigned long long)value);
}

/* A family of one unlabelled sample. */
static void one(struct shunt_metrics *m, const char *name, enum shunt_metric_type type,
		const char *help, __u64 value)
{
	shunt_metrics_family(m, name, type, help);
	shunt_metrics_sample(m, NULL, value);
}

/* --- what an instance exposes -------------------------------------------- */

/*
 * The counters of enum shunt_stat by family.  Two counters that are parts
 * of one whole share a family with a label (send directions by path); the
 * reasons a connection stayed on TCP (shunt_stat_names "tcp_*") are one
 * family, shunt_connections_tcp_total{reason}, the reason being the name
 * `shunt status --json` shows under tcp_reasons.  A counter appended to the
 * enum without a row here still appears, as shunt_<status name>_total (or
 * as a reason, if it is a tcp_ one), so none is ever silently missing.
 */
static const struct stat_family {
	const char *name;
	const char *help;
	const char *label, *value;	/* NULL: no label */
} stat_families[SHUNT_ST_MAX] = {
	[SHUNT_ST_ESTABLISHED] = { "shunt_sockets_established_total",
		"TCP sockets seen established in attached cgroups (each end of a connection counts)." },
	[SHUNT_ST_SOCK_ADDED] = { "shunt_sockets_added_total",
		"Sockets put in the sockhash." },
	[SHUNT_ST_SOCK_REMOVED] = { "shunt_sockets_removed_total",
		"Sockets taken out of the sockhash again: their connection, or what was left of it after a half-close, went on by TCP." },
	[SHUNT_ST_CONN_REDIR] = { "shunt_connections_redirected_total",
		"Connections whose first send was redirected." },
	[SHUNT_ST_TX_REDIR] = { "shunt_directions_total",
		"Send directions of connections, by the path they were decided to take.",
		"path", "redirected" },
	[SHUNT_ST_TX_TCP] = { "shunt_directions_total", NULL, "path", "tcp" },
	[SHUNT_ST_MSG_REDIR] = { "shunt_redirected_messages_total",
		"Messages (sendmsg calls' worth) redirected to the peer socket." },
	[SHUNT_ST_BYTES_REDIR] = { "shunt_redirected_bytes_total",
		"Bytes redirected to the peer socket, bypassing TCP." },
	[SHUNT_ST_FC_DETOUR] = { "shunt_flow_control_detours_total",
		"Times a redirected direction detoured over TCP because its reader fell behind by the flow-control bound." },
	[SHUNT_ST_FC_RESUME] = { "shunt_flow_control_resumes_total",
		"Times a detoured direction was redirected again after its reader caught up." },
	[SHUNT_ST_BYTES_DETOUR] = { "shunt_flow_control_detoured_bytes_total",
		"Bytes sent over TCP while their direction detoured." },
	[SHUNT_ST_RX_EAGAIN] = { "shunt_kernel_eagain_total",
		"Blocking reads that got EAGAIN from the kernel (a kernel bug, see README Limitations); that socket then receives by TCP." },
	[SHUNT_ST_EP_STALE] = { "shunt_endpoints_replaced_stale_total",
		"Endpoints a hook or plugin replaced because their network namespace was gone." },
};

static const char *const reason_help =
	"Connections, or one send direction of one, that shunt left on TCP, by reason (see shunt status).";

static void emit_counters(struct shunt_metrics *m, const struct shunt_status *s)
{
	bool done[SHUNT_ST_MAX] = {};
	char name[128];

	for (int i = 0; i < SHUNT_ST_MAX; i++) {
		const struct stat_family *f = &stat_families[i];
		const char *sn = shunt_stat_names[i];

		if (done[i] || !strncmp(sn, "tcp_", 4))
			continue;
		if (!f->name) {
			snprintf(name, sizeof(name), "shunt_%s_total", sn);
			one(m, name, SHUNT_METRIC_COUNTER, "A shunt status counter.", s->stats[i]);
			continue;
		}
		shunt_metrics_family(m, f->name, SHUNT_METRIC_COUNTER, f->help);
		/* this counter and every later one of its family */
		for (int j = i; j < SHUNT_ST_MAX; j++) {
			const struct stat_family *g = &stat_families[j];
			struct shunt_metric_label l[2] = { { g->label, g->value }, { NULL } };

			if (!g->name || strcmp(g->name, f->name))
				continue;
			shunt_metrics_sample(m, g->label ? l : NULL, s->stats[j]);
			done[j] = true;
		}
	}

	shunt_metrics_family(m, "shunt_connections_tcp_total", SHUNT_METRIC_COUNTER, reason_help);
	for (int i = 0; i < SHUNT_ST_MAX; i++) {
		struct shunt_metric_label l[] = { { "reason", shunt_stat_names[i] + 4 }, { NULL } };

		if (!strncmp(shunt_stat_names[i], "tcp_", 4))
			shunt_metrics_sample(m, l, s->stats[i]);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Endpoints by network, then name: a stable order, so outputs diff. */
static int cmp_ep(const void *a, const void *b)
{
	const struct endpoint *x = *(const struct endpoint *const *)a;
	const struct endpoint *y = *(const struct endpoint *const *)b;
	int r = strcmp(x->network, y->network);

	return r ? r : strcmp(x->name, y->name);
}

/*
 * The per-endpoint families: one row each, a counter of struct
 * shunt_ep_stat per endpoint with labels endpoint and network.  Another
 * per-endpoint counter is one more row here.
 */
static const struct ep_family {
	const char *name, *help;
	size_t off;			/* of the __u64 in struct shunt_ep_stat */
} ep_families[] = {
	{ "shunt_endpoint_connections_redirected_total",
	  "Connections of this endpoint whose first send was redirected.",
	  offsetof(struct shunt_ep_stat, conns_redirected) },
	{ "shunt_endpoint_redirected_sent_bytes_total",
	  "Bytes this endpoint sent that were redirected to their peer.",
	  offsetof(struct shunt_ep_stat, bytes_sent) },
	{ "shunt_endpoint_redirected_received_bytes_total",
	  "Bytes redirected to this endpoint.",
	  offsetof(struct shunt_ep_stat, bytes_received) },
};

/*
 * Endpoints by network, and the series per endpoint.  The table is read
 * afresh at every collection, which is what drops an endpoint's series when
 * the endpoint goes (its counters go with it: shunt_ep_stats_gc).  The TCP
 * reasons per endpoint are emitted only where not zero: all of them for
 * every endpoint would be 14 series per container, nearly all zero.
 */
static int emit_endpoints(struct shunt_metrics *m, struct shunt_ctx *c, const struct ep_table *t)
{
	const struct endpoint **eps = calloc(t->n ? t->n : 1, sizeof(*eps));
	const char **nets = calloc(t->n ? t->n : 1, sizeof(*nets));
	struct shunt_ep_stat *st = calloc(t->n ? t->n : 1, sizeof(*st));
	int err = 0;

	if (!eps || !nets || !st) {
		err = shunt_set_error(ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < t->n; i++) {
		nets[i] = t->eps[i].network;
		eps[i] = &t->eps[i];
	}
	qsort(nets, t->n, sizeof(*nets), cmp_str);
	qsort(eps, t->n, sizeof(*eps), cmp_ep);
	for (int i = 0; i < t->n; i++) {
		err = shunt_ep_stats_read(c, eps[i]->ep_id, &st[i]);
		if (err)
			goto out;
	}

	shunt_metrics_family(m, "shunt_endpoints", SHUNT_METRIC_GAUGE,
			     "Endpoints in the endpoint table, by network.");
	for (int i = 0, j; i < t->n; i = j) {
		struct shunt_metric_label l[] = { { "network", nets[i] }, { NULL } };

		for (j = i; j < t->n && !strcmp(nets[j], nets[i]); j++)
			;
		shunt_metrics_sample(m, l, j - i);
	}

	for (size_t f = 0; f < sizeof(ep_families) / sizeof(ep_families[0]); f++) {
		shunt_metrics_family(m, ep_families[f].name, SHUNT_METRIC_COUNTER, ep_families[f].help);
		for (int i = 0; i < t->n; i++) {
			struct shunt_metric_label l[] = {
				{ "endpoint", eps[i]->name }, { "network", eps[i]->network }, { NULL },
			};

			shunt_metrics_sample(m, l, *(const __u64 *)((const char *)&st[i] + ep_families[f].off));
		}
	}
	shunt_metrics_family(m, "shunt_endpoint_connections_tcp_total", SHUNT_METRIC_COUNTER,
			     "Connections, or one send direction of one, of this endpoint's sockets left on TCP, by reason; only reasons seen.");
	for (int i = 0; i < t->n; i++) {
		for (int r = 0; r < SHUNT_ST_MAX; r++) {
			struct shunt_metric_label l[] = {
				{ "endpoint", eps[i]->name }, { "network", eps[i]->network },
				{ "reason", shunt_stat_names[r] + 4 }, { NULL },
			};

			if (st[i].tcp[r] && !strncmp(shunt_stat_names[r], "tcp_", 4))
				shunt_metrics_sample(m, l, st[i].tcp[r]);
		}
	}
out:
	free(st);
	free(nets);
	free(eps);
	return err;
}

static void emit_build_info(struct shunt_metrics *m, const struct shunt_status *s)
{
	char built[24], running[24];
	struct shunt_metric_label l[] = {
		{ "version", shunt_build_version() },
		{ "bpf_object", built },
		{ "running_version", s ? s->version : "" },
		{ "running_bpf_object", running },
		{ NULL },
	};

	snprintf(built, sizeof(built), "%016llx", (unsigned long long)shunt_object_id());
	running[0] = 0;
	if (s && s->obj_id)
		snprintf(running, sizeof(running), "%016llx", (unsigned long long)s->obj_id);
	shunt_metrics_family(m, "shunt_build_info", SHUNT_METRIC_GAUGE,
			     "This shunt binary's version and BPF object, and those the running instance was loaded from (empty: unknown, or not loaded).");
	shunt_metrics_sample(m, l, 1);
}

static void emit_gauges(struct shunt_metrics *m, const struct shunt_status *s)
{
	int dangling = 0;
	bool counting = s->rx_hook != SHUNT_RX_NONE && s->rx_links > 0;
	struct shunt_metric_label rx[] = {
		{ "hook", s->rx_hook < 0 ? "unknown" : shunt_rx_hook_name(s->rx_hook) },
		{ NULL },
	};

	for (int i = 0; i < s->nlinks; i++)
		dangling += !s->links[i].path[0];

	one(m, "shunt_bpf_object_current", SHUNT_METRIC_GAUGE,
	    "1 if the instance runs this binary's BPF object, 0 if 'shunt load --upgrade' would change it.",
	    s->obj_id == shunt_object_id());
	one(m, "shunt_paused", SHUNT_METRIC_GAUGE,
	    "1 if the instance is paused (new connections stay on TCP), e.g. by a refused unload.", s->paused);
	/* (promtool's lint refuses "counter" in a gauge's name: not
	 * shunt_read_counter_present.) */
	shunt_metrics_family(m, "shunt_read_hook_attached", SHUNT_METRIC_GAUGE,
			     "1 if the read counter is attached (without it nothing is redirected, or flow control cannot resume), by the hook the instance was loaded with.");
	shunt_metrics_sample(m, rx, counting);
	one(m, "shunt_cgroups_attached", SHUNT_METRIC_GAUGE,
	    "Cgroups shunt is attached to that still exist.", s->nlinks - dangling);
	one(m, "shunt_links_dangling", SHUNT_METRIC_GAUGE,
	    "Pinned links whose cgroup was removed (the OCI hook's poststop collects them).", dangling);
	one(m, "shunt_sockhash_sockets", SHUNT_METRIC_GAUGE,
	    "Sockets in the sockhash now.", s->sockets);
	one(m, "shunt_sockhash_max_sockets", SHUNT_METRIC_GAUGE,
	    "Sockhash size (load --max-sockets); a full sockhash leaves connections on TCP (reason map_full).",
	    s->max_sockets);
	one(m, "shunt_connections_redirected_open", SHUNT_METRIC_GAUGE,
	    "Connections with a redirected direction now.", s->conns_redir);
	one(m, "shunt_endpoints_max", SHUNT_METRIC_GAUGE,
	    "Endpoint table size.", SHUNT_MAX_ENDPOINTS);
	if (s->fc_bound)	/* 0: not loaded by shunt load, unknown */
		one(m, "shunt_flow_control_bound_bytes", SHUNT_METRIC_GAUGE,
		    "Queued, unread bytes above which a redirected direction detours over TCP (load --fc-bound).",
		    s->fc_bound);
}

/*
 * The vsock bridge's counters (shunt status, bridge): steering decisions,
 * bytes each way, rejections by reason, and the rest as connection
 * events, each a family with one label; the agent's liveness as a gauge.
 */
static void emit_bridge(struct shunt_metrics *m, const struct shunt_status *s)
{
	static const struct {
		const char *prefix, *family, *label, *help;
		size_t strip;
	} fams[] = {
		{ "steered", "shunt_bridge_steering_total", "decision",
		  "connect() calls to another VM's endpoint, by what the connect hook did (steered, or fallback to the network and why).", 0 },
		{ "fallback_", "shunt_bridge_steering_total", "decision", NULL, 9 },
		{ "bytes_", "shunt_bridge_bytes_total", "direction",
		  "Bytes the bridge agent moved: out of local applications, in to them.", 6 },
		{ "rejected_", "shunt_bridge_rejected_total", "reason",
		  "Bridge requests refused, by reason.", 9 },
		{ "", "shunt_bridge_connections_total", "event",
		  "Bridged connections by event: opened and accepted by an agent, relayed, aborted, refused, relay or destination down, lists served.", 0 },
	};
	bool done_family[sizeof(fams) / sizeof(fams[0])] = {};

	one(m, "shunt_bridge_agent_up", SHUNT_METRIC_GAUGE,
	    "1 if this instance's bridge agent is alive (its connect hook steers), else 0.", s->agent_alive);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		if (done_family[f])
			continue;
		shunt_metrics_family(m, fams[f].family, SHUNT_METRIC_COUNTER, fams[f].help);
		for (size_t g = f; g < sizeof(fams) / sizeof(fams[0]); g++) {
			if (strcmp(fams[g].family, fams[f].family))
				continue;
			done_family[g] = true;
			for (int i = 0; i < SHUNT_BR_MAX; i++) {
				const char *n = shunt_br_stat_names[i];
				size_t k;

				/* the first family whose prefix matches owns the counter */
				for (k = 0; k < sizeof(fams) / sizeof(fams[0]); k++)
					if (!strncmp(n, fams[k].prefix, strlen(fams[k].prefix)))
						break;
				if (k == g) {
					struct shunt_metric_label l[] = { { fams[g].label, n + fams[g].strip }, { NULL } };

					shunt_metrics_sample(m, l, s->br[i]);
				}
			}
		}
	}
}

static void emit_up(struct shunt_metrics *m, bool up)
{
	one(m, "shunt_up", SHUNT_METRIC_GAUGE,
	    "1 if the instance is loaded and could be read, else 0.", up);
}

/*
 * Everything is read and rendered into @body first: a read failing half
 * way yields shunt_up 0 alone, never shunt_up 1 with families missing.
 */
int shunt_metrics_collect(struct shunt_metrics *m, const char *pin_dir, bool *up)
{
	struct shunt_metrics body;
	struct shunt_status *s;
	struct ep_table t = {};
	struct shunt_ctx c;
	int err;

	*up = false;
	shunt_metrics_init(&body);
	s = calloc(1, sizeof(*s));
	if (!s) {
		m->oom = true;
		return shunt_set_error(ENOMEM, "out of memory");
	}
	err = shunt_open(&c, pin_dir);
	if (err)
		goto down;
	err = shunt_status_read(&c, s);
	if (!err)
		err = shunt_ep_read(&c, &t);
	if (!err) {
		emit_up(&body, true);
		emit_build_info(&body, s);
		emit_gauges(&body, s);
		err = emit_endpoints(&body, &c, &t);
	}
	shunt_close(&c);
	if (err)
		goto down;
	emit_counters(&body, s);
	emit_bridge(&body, s);
	if (body.oom) {
		err = shunt_set_error(ENOMEM, "out of memory");
		goto down;
	}
	put(m, body.buf, body.len);
	*up = true;
	goto out;
down:
	emit_up(m, false);
	emit_build_info(m, NULL);
out:
	shunt_metrics_free(&body);
	ep_table_free(&t);
	free(s);
	if (!err && m->oom)
		err = shunt_set_error(ENOMEM, "out of memory");
	return err;
}

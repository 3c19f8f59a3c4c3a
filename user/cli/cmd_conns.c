// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt conns: the connections shunt holds, the way `ss -tn` shows sockets,
 * but named by network and endpoint (the same 4-tuple can live in two
 * networks at once).  From kernel state: a walk of shunt_conns (and of
 * shunt_tcp_conns with --all), which hold everything shown; no cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feature.h"
#include "log.h"
#include "names.h"

struct filter {
	bool have_src, have_dst;
	struct shunt_addr src, dst;
	int src_port, dst_port;		/* -1: any */
	const char *endpoint;
	bool all;
};

/* ADDR, ADDR:PORT, [ADDR6]:PORT */
static int parse_addr_port(const char *s, struct shunt_addr *a, int *port)
{
	char buf[80], *colon;

	*port = -1;
	snprintf(buf, sizeof(buf), "%s", s);
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end)
			return -1;
		*end = 0;
		if (end[1] == ':')
			*port = atoi(end + 2);
		return addr_parse(buf + 1, a);
	}
	colon = strrchr(buf, ':');
	if (colon && strchr(buf, ':') == colon) {	/* IPv4:port */
		*colon = 0;
		*port = atoi(colon + 1);
	}
	return addr_parse(buf, a);
}

static bool match(const struct filter *f, const struct names *n, const struct shunt_conn_view *v)
{
	const struct shunt_sock_key *k = &v->key[0];	/* the connecting end's view */

	if (f->have_src && (!addr_equal(&k->laddr, &f->src) || (f->src_port >= 0 && k->lport != f->src_port)))
		return false;
	if (f->have_dst && (!addr_equal(&k->raddr, &f->dst) || (f->dst_port >= 0 && k->rport != f->dst_port)))
		return false;
	if (f->endpoint) {
		const struct endpoint *a = names_ep(n, v->ep_id[0]), *b = names_ep(n, v->ep_id[1]);

		if (!(a && !strcmp(a->name, f->endpoint)) && !(b && !strcmp(b->name, f->endpoint)))
			return false;
	}
	return true;
}

static void print_text(const struct names *n, const struct shunt_conn_view *v, int cnt,
		       const struct filter *f)
{
	int it = shunt_probe_iter();

	/* Say where the rows come from (the issue: iterator, or map walk). */
	printf("# from a walk of shunt_conns%s (BPF iterators %s%s%s)\n",
	       f->all ? " and shunt_tcp_conns" : "", it ? "refused here: " : "load here; not needed",
	       it ? strerror(-it) : "", "");
	printf("%-6s %-10s %-34s %-34s %-30s %-30s %s\n", "STATE", "NETWORK", "ACTIVE", "PASSIVE",
	       "ACTIVE->PASSIVE", "PASSIVE->ACTIVE", "AGE");
	for (int i = 0; i < cnt; i++) {
		const struct shunt_conn_view *x = &v[i];
		char end[2][96], dir[2][64], ap[64];

		if (!match(f, n, x))
			continue;
		for (int e = 0; e < 2; e++) {
			const struct endpoint *ep = names_ep(n, x->ep_id[e]);

			names_addr_port(&x->key[0].laddr, x->key[0].lport, ap, sizeof(ap));
			if (e)
				names_addr_port(&x->key[0].raddr, x->key[0].rport, ap, sizeof(ap));
			snprintf(end[e], sizeof(end[e]), "%s %s", ep ? ep->name : "-", ap);
			if (x->tcp_only)
				snprintf(dir[e], sizeof(dir[e]), "tcp");
			else if (x->tx[e] == SHUNT_TX_REDIR || x->tx[e] == SHUNT_TX_DETOUR)
				snprintf(dir[e], sizeof(dir[e]), "%s %llu q %llu", names_tx(x->tx[e]),
					 (unsigned long long)x->sent[e], (unsigned long long)x->queued[e]);
			else
				snprintf(dir[e], sizeof(dir[e]), "%s", names_tx(x->tx[e]));
		}
		printf("%-6s %-10s %-34s %-34s %-30s %-30s %.1fs", x->tcp_only ? "tcp" : "shunt",
		       names_net(n, x->key[0].net_id), end[0], end[1], dir[0], dir[1], x->age_ns / 1e9);
		if (x->tcp_only)
			printf(" reason %s%s%s", names_reason(x->reason[x->reason[0] == SHUNT_ST_MAX]),
			       x->reason[0] != SHUNT_ST_MAX && x->reason[1] != SHUNT_ST_MAX ? ", passive end " : "",
			       x->reason[0] != SHUNT_ST_MAX && x->reason[1] != SHUNT_ST_MAX ?
				       names_reason(x->reason[1]) : "");
		printf("\n");
	}
}

static void print_json(const struct names *n, const struct shunt_conn_view *v, int cnt,
		       const struct filter *f)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < cnt; i++) {
		const struct shunt_conn_view *x = &v[i];
		json_object *o, *dirs;

		if (!match(f, n, x))
			continue;
		o = json_object_new_object();
		dirs = json_object_new_array();
		json_object_object_add(o, "network", json_object_new_string(names_net(n, x->key[0].net_id)));
		json_object_object_add(o, "net_id", json_object_new_int64(x->key[0].net_id));
		json_object_object_add(o, "active", names_end_json(n, x->ep_id[0], &x->key[0], 1));
		json_object_object_add(o, "passive", names_end_json(n, x->ep_id[1], &x->key[0], 0));
		for (int e = 0; e < 2; e++) {
			json_object *d = json_object_new_object();

			json_object_object_add(d, "from", json_object_new_string(e ? "passive" : "active"));
			json_object_object_add(d, "path", json_object_new_string(x->tcp_only ? "tcp" : names_tx(x->tx[e])));
			if (!x->tcp_only) {
				json_object_object_add(d, "bytes", json_object_new_uint64(x->sent[e]));
				json_object_object_add(d, "queued", json_object_new_uint64(x->queued[e]));
			}
			json_object_array_add(dirs, d);
		}
		json_object_object_add(o, "directions", dirs);
		json_object_object_add(o, "tcp_only", json_object_new_boolean(x->tcp_only));
		if (x->tcp_only) {
			json_object *r = json_object_new_object();

			/* "reason": the connecting end's, else the other's. */
			json_object_object_add(o, "reason", json_object_new_string(
				names_reason(x->reason[x->reason[0] == SHUNT_ST_MAX])));
			for (int e = 0; e < 2; e++)
				if (x->reason[e] != SHUNT_ST_MAX)
					json_object_object_add(r, e ? "passive" : "active",
							       json_object_new_string(names_reason(x->reason[e])));
			json_object_object_add(o, "reasons", r);
		}
		json_object_object_add(o, "age_s", json_object_new_double(x->age_ns / 1e9));
		json_object_array_add(arr, o);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

int cmd_conns(struct cli_env *env, int argc, char **argv)
{
	struct shunt_conn_view *v = NULL;
	struct filter f = { .src_port = -1, .dst_port = -1 };
	struct names n = {};
	struct shunt_ctx c;
	bool all = false;
	int err, cnt = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--all")) {
			all = true;
		} else if ((!strcmp(argv[i], "dst") || !strcmp(argv[i], "src")) && i + 1 < argc) {
			bool dst = argv[i][0] == 'd';

			if (parse_addr_port(argv[i + 1], dst ? &f.dst : &f.src, dst ? &f.dst_port : &f.src_port)) {
				pr_warn("conns: %s %s: %s\n", argv[i], argv[i + 1], shunt_strerror());
				return 2;
			}
			*(dst ? &f.have_dst : &f.have_src) = true;
			i++;
		} else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc) {
			f.endpoint = argv[++i];
		} else {
			pr_warn("usage: shunt conns [--all] [src ADDR[:PORT]] [dst ADDR[:PORT]] [--endpoint NAME]\n");
			return 2;
		}
	}
	f.all = all;
	err = cli_open(env, &c);
	if (err)
		return err;
	err = names_load(&c, &n);
	if (!err)
		err = shunt_conns_read(&c, all, &v, &cnt);
	shunt_close(&c);
	if (err) {
		names_free(&n);
		return cli_fail(err);
	}
	if (env->json)
		print_json(&n, v, cnt, &f);
	else
		print_text(&n, v, cnt, &f);
	free(v);
	names_free(&n);
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt explain SRC DST[:PORT]: would that connection be redirected, and why not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "cli.h"
#include "explain.h"
#include "feature.h"
#include "log.h"

/*
 * ADDR, ADDR:PORT (IPv4), [ADDR] or [ADDR]:PORT (IPv6), or a bare IPv6
 * address (two colons or more: no port).  @what names it in errors.
 */
static int parse_end(const char *what, const char *s, struct shunt_addr *a, int *port)
{
	char host[128];
	const char *p = NULL, *colon = strchr(s, ':');
	size_t n;

	*port = -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return shunt_set_error(EINVAL, "%s \"%s\": want [IPv6] or [IPv6]:PORT", what, s);
		n = close - s - 1;
		if (n >= sizeof(host))
			return shunt_set_error(EINVAL, "%s \"%s\": address too long", what, s);
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (close[1])
			p = close + 2;
	} else if (colon && !strchr(colon + 1, ':')) {
		n = colon - s;
		if (n >= sizeof(host))
			return shunt_set_error(EINVAL, "%s \"%s\": address too long", what, s);
		memcpy(host, s, n);
		host[n] = 0;
		p = colon + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			return shunt_set_error(EINVAL, "%s \"%s\": address too long", what, s);
		strcpy(host, s);
	}
	if (p) {
		char *end;
		long v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (!*p || *end || errno || v < 1 || v > 65535)
			return shunt_set_error(EINVAL, "%s \"%s\": bad port \"%s\" (1-65535)", what, s, p);
		*port = v;
	}
	if (addr_parse(host, a))
		return shunt_set_error(EINVAL, "%s: %s", what, shunt_strerror());
	return 0;
}

static json_object *jstr(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

static json_object *side_json(const struct shunt_explain_side *s)
{
	json_object *o = json_object_new_object(), *cg = json_object_new_object();
	json_object *list = json_object_new_array();
	char buf[64];

	addr_format(&s->addr, buf, sizeof(buf));
	json_object_object_add(o, "address", json_object_new_string(buf));
	json_object_object_add(o, "port", s->port >= 0 ? json_object_new_int(s->port) : NULL);
	json_object_object_add(o, "netns", s->netns_known ? json_object_new_string(s->netns) : NULL);
	json_object_object_add(o, "netns_cookie",
			       s->netns_known ? json_object_new_uint64(s->netns_cookie) : NULL);
	json_object_object_add(o, "endpoint", jstr(s->endpoint));
	json_object_object_add(o, "network", jstr(s->network));
	json_object_object_add(o, "matched", json_object_new_boolean(s->has_ep));
	json_object_object_add(cg, "state", json_object_new_string(shunt_explain_cg_name(s->cg_state)));
	json_object_object_add(cg, "processes", json_object_new_int(s->nprocs));
	for (int i = 0; i < s->ncgroups && i < SHUNT_EXPLAIN_CGROUPS; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "path", json_object_new_string(s->cg[i].path));
		json_object_object_add(c, "attached_via", jstr(s->cg[i].via));
		json_object_array_add(list, c);
	}
	json_object_object_add(cg, "cgroups", list);
	json_object_object_add(o, "cgroup", cg);
	return o;
}

static const char *verdict_counter(int v)
{
	return v == SHUNT_EXPLAIN_UNCOUNTED ? NULL : shunt_stat_names[v];
}

static void print_json(const struct cli_env *env, const struct shunt_explain *e)
{
	json_object *o = json_object_new_object();
	bool redir = e->verdict == SHUNT_ST_CONN_REDIR;

	json_object_object_add(o, "pin_dir", json_object_new_string(env->pin_dir));
	json_object_object_add(o, "paused", json_object_new_boolean(e->paused));
	json_object_object_add(o, "read_counter", json_object_new_string(
		e->rx_hook < 0 ? "unknown" : shunt_rx_hook_name(e->rx_hook)));
	json_object_object_add(o, "src", side_json(&e->src));
	json_object_object_add(o, "dst", side_json(&e->dst));
	json_object_object_add(o, "same_netns", e->src.netns_known && e->dst.netns_known ?
			       json_object_new_boolean(e->src.netns_cookie == e->dst.netns_cookie) : NULL);
	json_object_object_add(o, "classify", json_object_new_string(shunt_explain_reason(e->classify)));
	json_object_object_add(o, "reverse", e->reverse >= 0 ?
			       json_object_new_string(shunt_explain_reason(e->reverse)) : NULL);
	json_object_object_add(o, "reverse_matches", json_object_new_boolean(e->reverse_mirrors));
	json_object_object_add(o, "verdict", json_object_new_string(redir ? "redirect" : "tcp"));
	json_object_object_add(o, "reason", redir ? NULL :
			       json_object_new_string(shunt_explain_reason(e->verdict)));
	json_object_object_add(o, "counter", verdict_counter(e->verdict) ?
			       json_object_new_string(verdict_counter(e->verdict)) : NULL);
	json_object_object_add(o, "passive_counter", e->passive >= 0 && e->passive < SHUNT_ST_MAX ?
			       json_object_new_string(shunt_stat_names[e->passive]) : NULL);
	json_object_object_add(o, "detail", json_object_new_string(e->detail));
	json_object_object_add(o, "passive_detail", jstr(e->passive_detail));
	json_object_object_add(o, "note", jstr(e->note));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_side(const char *tag, const struct shunt_explain_side *s, const char *network)
{
	char buf[64];

	addr_format(&s->addr, buf, sizeof(buf));
	printf("%s: %s", tag, buf);
	if (s->netns_known)
		printf(" in %s%s (cookie %llu)", s->netns[0] ? "netns " : "its registrant's own netns",
		       s->netns, (unsigned long long)s->netns_cookie);
	if (s->has_ep)
		printf(": endpoint %s, network %s\n", s->endpoint[0] ? s->endpoint : "?",
		       s->network[0] ? s->network : "?");
	else if (s->endpoint[0])	/* listed, not reached by the lookup */
		printf(": listed as endpoint %s of network %s\n", s->endpoint, s->network);
	else if (network && network[0])
		printf(": no endpoint of network %s\n", network);
	else if (s->netns_known)
		printf(": no endpoint of that netns\n");
	else
		printf(": no endpoint in any netns\n");
}

static void print_cgroup(const char *tag, const struct shunt_explain_side *s)
{
	const char *sep = "";

	printf("%s cgroup: %s", tag, shunt_explain_cg_name(s->cg_state));
	switch (s->cg_state) {
	case SHUNT_CG_UNKNOWN:
		printf(" (%s)\n", s->netns_known ? "no process in that netns" : "netns not known");
		return;
	case SHUNT_CG_ATTACHED:
		printf(" (via");
		for (int i = 0; i < s->ncgroups && i < SHUNT_EXPLAIN_CGROUPS; i++) {
			bool dup = false;

			for (int j = 0; j < i && !dup; j++)
				dup = !strcmp(s->cg[i].via, s->cg[j].via);
			if (!dup)
				printf("%s %s", sep, s->cg[i].via), sep = ",";
		}
		break;
	default:
		printf(" (");
		for (int i = 0; i < s->ncgroups && i < SHUNT_EXPLAIN_CGROUPS; i++) {
			if (s->cg[i].via[0])
				printf("%s%s via %s", sep, s->cg[i].path, s->cg[i].via);
			else
				printf("%s%s%s", sep, s->cg[i].path,
				       s->cg_state == SHUNT_CG_PARTLY ? " not" : "");
			sep = ", ";
		}
		if (s->ncgroups > SHUNT_EXPLAIN_CGROUPS)
			printf("%s%d more", sep, s->ncgroups - SHUNT_EXPLAIN_CGROUPS);
	}
	printf(")\n");
}

static void print_text(const struct cli_env *env, const struct shunt_explain *e)
{
	const struct shunt_explain_side *s = &e->src, *d = &e->dst;
	bool assume = false;

	printf("instance: %s%s\n", env->pin_dir,
	       e->paused ? " (paused: new connections stay on TCP)" : "");
	printf("read counter: %s\n", e->rx_hook < 0 ? "unknown" : shunt_rx_hook_name(e->rx_hook));
	print_side("src", s, NULL);
	print_side("dst", d, s->has_ep ? s->network : NULL);
	if (s->port >= 0 && d->port >= 0)
		printf("port: src %d, dst %d (informational: shunt decides by address, never by port)\n",
		       s->port, d->port);
	else if (s->port >= 0 || d->port >= 0)
		printf("port: %s %d (informational: shunt decides by address, never by port)\n",
		       s->port >= 0 ? "src" : "dst", s->port >= 0 ? s->port : d->port);
	if (s->netns_known && d->netns_known)
		printf("netns: %s\n", s->netns_cookie == d->netns_cookie ? "same" : "different");
	else
		printf("netns: unknown (%s's netns is not known)\n", s->netns_known ? "dst" : "src");
	print_cgroup("src", s);
	print_cgroup("dst", d);
	if (e->reverse < 0)
		printf("reverse: unknown (the passive socket's netns is not known)\n");
	else if (e->reverse_mirrors) {
		char la[64], ra[64];

		addr_format(&d->addr, la, sizeof(la));
		addr_format(&s->addr, ra, sizeof(ra));
		printf("reverse: matches (in dst's netns %s is endpoint %s, and %s is %s of network %s)\n",
		       la, d->endpoint, ra, s->endpoint, s->network);
	}
	else if (e->reverse_table != SHUNT_ST_MAX)
		printf("reverse: %s (the passive socket's own lookup)\n",
		       shunt_explain_reason(e->reverse_table));
	else
		printf("reverse: does not mirror (the passive socket's keys differ from the connecting socket's)\n");
	if (e->passive_detail[0])
		printf("passive side: %s\n", e->passive_detail);
	if (e->note[0])
		printf("note: %s\n", e->note);
	for (int i = 0; i < 2; i++) {
		const struct shunt_explain_side *x = i ? d : s;

		if (x->cg_state == SHUNT_CG_UNKNOWN || x->cg_state == SHUNT_CG_PARTLY)
			assume = true;
	}
	if (assume && e->verdict != SHUNT_EXPLAIN_UNCOUNTED)
		printf("note: a side whose attachment is unknown or partial is taken as attached\n");
	if (e->verdict == SHUNT_ST_CONN_REDIR)
		printf("verdict: redirect\n");
	else if (e->verdict == SHUNT_EXPLAIN_UNCOUNTED)
		printf("verdict: tcp (not counted: %s)\n", e->detail);
	else
		printf("verdict: tcp (%s: %s)\n", shunt_explain_reason(e->verdict), e->detail);
}

static int usage(void)
{
	pr_warn("usage: shunt explain SRC DST[:PORT] [--netns NS] [--network NET] [--json]\n");
	return 2;
}

int cmd_explain(struct cli_env *env, int argc, char **argv)
{
	struct shunt_explain_query q = {};
	const char *pos[2];
	struct shunt_explain *e;
	struct shunt_ctx c;
	int npos = 0, err;

	for (int i = 0; i < argc; i++) {
		const char **opt = NULL, *a = argv[i];
		size_t n = 0;

		if (!strncmp(a, "--netns", 7) && (a[7] == '=' || !a[7]))
			opt = &q.netns, n = 7;
		else if (!strncmp(a, "--network", 9) && (a[9] == '=' || !a[9]))
			opt = &q.network, n = 9;
		if (opt) {
			if (a[n] == '=')
				*opt = a + n + 1;
			else if (i + 1 < argc)
				*opt = argv[++i];
			else
				return usage();
			if (!**opt) {
				pr_warn("explain: %.*s needs a value\n", (int)n, a);
				return 2;
			}
			continue;
		}
		if (a[0] == '-' && a[1]) {
			pr_warn("explain: unknown option %s\n", a);
			return 2;
		}
		if (npos == 2)
			return usage();
		pos[npos++] = a;
	}
	if (npos != 2)
		return usage();
	if (q.network && network_check(q.network))
		return cli_fail(-EINVAL);
	if (parse_end("SRC", pos[0], &q.src, &q.src_port) ||
	    parse_end("DST", pos[1], &q.dst, &q.dst_port))
		return cli_fail(-EINVAL);

	err = cli_open(env, &c);
	if (err)
		return err;
	e = malloc(sizeof(*e));
	if (!e) {
		shunt_close(&c);
		pr_warn("out of memory\n");
		return 1;
	}
	err = shunt_explain(&c, &q, e);
	shunt_close(&c);
	if (!err) {
		if (env->json)
			print_json(env, e);
		else
			print_text(env, e);
	}
	free(e);
	return err ? cli_fail(err) : 0;
}

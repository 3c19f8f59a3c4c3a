// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "bridge.h"
#include "cli.h"
#include "feature.h"
#include "log.h"

/* The read counter this instance runs: what it was loaded with, if counting. */
static const char *rx_name(const struct shunt_status *s)
{
	if (s->rx_hook == SHUNT_RX_NONE)
		return "none";
	if (!s->rx_links)
		return "not attached";
	return s->rx_hook < 0 ? "unknown" : shunt_rx_hook_name(s->rx_hook);
}

static void print_json(const struct cli_env *env, const struct shunt_status *s, json_object *eps)
{
	json_object *o = json_object_new_object(), *links = json_object_new_array();
	json_object *st = json_object_new_object(), *tcp = json_object_new_object();

	json_object_object_add(o, "pin_dir", json_object_new_string(env->pin_dir));
	json_object_object_add(o, "loaded", json_object_new_boolean(1));
	json_object_object_add(o, "paused", json_object_new_boolean(s->paused));
	for (int i = 0; i < s->nlinks; i++) {
		json_object *l = json_object_new_object();

		json_object_object_add(l, "cgroup_id", json_object_new_uint64(s->links[i].cgroup_id));
		json_object_object_add(l, "path", json_object_new_string(s->links[i].path));
		json_object_array_add(links, l);
	}
	json_object_object_add(o, "attached", links);
	json_object_object_add(o, "endpoints", json_object_new_int(s->endpoints));
	json_object_object_add(o, "sockets", json_object_new_int(s->sockets));
	json_object_object_add(o, "connections_redirected_now",
			       json_object_new_int(s->conns_redir));
	json_object_object_add(o, "max_sockets", json_object_new_uint64(s->max_sockets));
	json_object_object_add(o, "fc_bound", json_object_new_uint64(s->fc_bound));
	json_object_object_add(o, "read_counter", json_object_new_string(rx_name(s)));
	{
		char id[24];

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)s->obj_id);
		json_object_object_add(o, "version", json_object_new_string(s->version));
		json_object_object_add(o, "bpf_object", json_object_new_string(s->obj_id ? id : ""));
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)shunt_object_id());
		json_object_object_add(o, "this_binary", json_object_new_string(shunt_build_version()));
		json_object_object_add(o, "this_binary_bpf_object", json_object_new_string(id));
	}
	for (int i = 0; i < SHUNT_ST_MAX; i++) {
		const char *n = shunt_stat_names[i];

		if (!strncmp(n, "tcp_", 4))
			json_object_object_add(tcp, n + 4, json_object_new_uint64(s->stats[i]));
		else
			json_object_object_add(st, n, json_object_new_uint64(s->stats[i]));
	}
	json_object_object_add(o, "counters", st);
	{
		json_object *br = json_object_new_object(), *bc = json_object_new_object();
		json_object *ag = json_object_new_object();

		json_object_object_add(ag, "alive", json_object_new_boolean(s->agent_alive));
		json_object_object_add(ag, "pid", json_object_new_int64(s->agent.pid));
		json_object_object_add(ag, "port", json_object_new_int(s->agent.port));
		for (int i = 0; i < SHUNT_BR_MAX; i++)
			json_object_object_add(bc, shunt_br_stat_names[i], json_object_new_uint64(s->br[i]));
		json_object_object_add(br, "agent", ag);
		json_object_object_add(br, "counters", bc);
		json_object_object_add(o, "bridge", br);
	}
	json_object_object_add(o, "endpoint_counters", eps);
	json_object_object_add(o, "tcp_reasons", tcp);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Only where the bridge was ever used: an agent ran or a counter moved. */
static void print_bridge(const struct shunt_status *s)
{
	bool any = s->agent.pid;

	for (int i = 0; i < SHUNT_BR_MAX; i++)
		any |= s->br[i] != 0;
	if (!any)
		return;
	if (s->agent_alive)
		printf("bridge:      agent pid %u on 127.0.0.1:%u, steering\n", s->agent.pid, s->agent.port);
	else
		printf("bridge:      no live agent: connections to other VMs go by the network\n");
	for (int i = 0; i < SHUNT_BR_MAX; i++)
		printf("  %-24s %llu\n", shunt_br_stat_names[i], (unsigned long long)s->br[i]);
}

static json_object *ep_stat_json(const struct endpoint *ep, const struct shunt_ep_stat *st)
{
	json_object *o = json_object_new_object(), *tcp = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(ep->name));
	json_object_object_add(o, "id", json_object_new_int64(ep->ep_id));
	json_object_object_add(o, "network", json_object_new_string(ep->network));
	json_object_object_add(o, "owner", json_object_new_string(ep_owner(ep)));
	json_object_object_add(o, "connections_redirected", json_object_new_uint64(st->conns_redirected));
	json_object_object_add(o, "bytes_sent", json_object_new_uint64(st->bytes_sent));
	json_object_object_add(o, "bytes_received", json_object_new_uint64(st->bytes_received));
	for (int r = 0; r < SHUNT_ST_MAX; r++)
		if (!strncmp(shunt_stat_names[r], "tcp_", 4))
			json_object_object_add(tcp, shunt_stat_names[r] + 4, json_object_new_uint64(st->tcp[r]));
	json_object_object_add(o, "tcp_reasons", tcp);
	return o;
}

/* status --endpoint NAME, and every endpoint's counters in --json. */
static int endpoint_stats(struct cli_env *env, struct shunt_ctx *c, const char *name,
			  json_object *into)
{
	struct shunt_ep_stat st;
	struct ep_table t;
	int err, found = 0;

	err = shunt_ep_read(c, &t);
	if (err)
		return cli_fail(err);
	for (int i = 0; i < t.n; i++) {
		const struct endpoint *ep = &t.eps[i];

		if (name && strcmp(ep->name, name))
			continue;
		found++;
		err = shunt_ep_stats_read(c, ep->ep_id, &st);
		if (err)
			break;
		if (into) {
			json_object_array_add(into, ep_stat_json(ep, &st));
			continue;
		}
		if (env->json) {
			json_object *o = ep_stat_json(ep, &st);

			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
			continue;
		}
		printf("endpoint:    %s (id %u, network %s, owner %s)\n", ep->name, ep->ep_id,
		       ep->network, ep_owner(ep));
		printf("connections: %llu redirected\n", (unsigned long long)st.conns_redirected);
		printf("bytes:       %llu sent, %llu received, redirected\n",
		       (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received);
		printf("left on TCP:\n");
		for (int r = 0; r < SHUNT_ST_MAX; r++)
			if (!strncmp(shunt_stat_names[r], "tcp_", 4))
				printf("  %-24s %llu\n", shunt_stat_names[r] + 4, (unsigned long long)st.tcp[r]);
	}
	ep_table_free(&t);
	if (err)
		return cli_fail(err);
	if (name && !found) {
		pr_warn("no endpoint \"%s\"\n", name);
		return 1;
	}
	return 0;
}

int cmd_status(struct cli_env *env, int argc, char **argv)
{
	struct shunt_status s;
	struct shunt_ctx c;
	int err;

	if (argc && (argc != 2 || strcmp(argv[0], "--endpoint"))) {
		pr_warn("usage: shunt status [--endpoint NAME]\n");
		return 2;
	}
	err = cli_open(env, &c);
	if (err)
		return err;
	if (argc) {
		err = endpoint_stats(env, &c, argv[1], NULL);
		shunt_close(&c);
		return err;
	}
	err = shunt_status_read(&c, &s);
	if (err) {
		shunt_close(&c);
		return cli_fail(err);
	}
	if (env->json) {
		json_object *eps = json_object_new_array();

		err = endpoint_stats(env, &c, NULL, eps);
		shunt_close(&c);
		if (!err)
			print_json(env, &s, eps);
		else
			json_object_put(eps);
		return err;
	}
	shunt_close(&c);
	printf("loaded:      %s%s\n", env->pin_dir, s.paused ? " (paused: new connections stay on TCP)" : "");
	printf("attached:    %d cgroup(s)\n", s.nlinks);
	for (int i = 0; i < s.nlinks; i++)
		printf("             %s (id %llu)\n", s.links[i].path[0] ? s.links[i].path : "(removed)",
		       (unsigned long long)s.links[i].cgroup_id);
	if (s.obj_id)
		printf("running:     %s, bpf object %016llx%s\n", s.version[0] ? s.version : "(unknown version)",
		       (unsigned long long)s.obj_id,
		       s.obj_id == shunt_object_id() ? " (this binary's)" : "");
	else
		printf("running:     unknown (not loaded by this version of shunt load)\n");
	if (s.obj_id != shunt_object_id())
		printf("this binary: %s, bpf object %016llx: 'shunt load --upgrade' moves to it\n",
		       shunt_build_version(), (unsigned long long)shunt_object_id());
	printf("endpoints:   %d\n", s.endpoints);
	printf("connections: %d redirected now, %llu in total; %d sockets in the sockhash\n",
	       s.conns_redir, (unsigned long long)s.stats[SHUNT_ST_CONN_REDIR], s.sockets);
	printf("limits:      %u sockets in the sockhash, flow-control bound ", s.max_sockets);
	if (s.fc_bound)
		printf("%llu bytes\n", (unsigned long long)s.fc_bound);
	else
		printf("unknown (not loaded by shunt load)\n");
	printf("read counter: %s", rx_name(&s));
	if (s.rx_hook == SHUNT_RX_NONE)
		printf(" (this kernel has none: connections stay on TCP, see 'shunt features')");
	else if (!s.rx_links)
		printf(" (not loaded by shunt load: flow control cannot resume, half-closed sockets stay in the sockhash)");
	else if (s.rx_hook == SHUNT_RX_FEXIT)
		printf(" on inet_recvmsg and inet6_recvmsg (no sock_recv_length tracepoint before 6.3)");
	else if (s.rx_hook == SHUNT_RX_TP)
		printf(" sock_recv_length");
	printf("\n");
	printf("redirected:  %llu bytes in %llu messages\n",
	       (unsigned long long)s.stats[SHUNT_ST_BYTES_REDIR],
	       (unsigned long long)s.stats[SHUNT_ST_MSG_REDIR]);
	printf("counters:\n");
	for (int i = 0; i < SHUNT_ST_MAX; i++)
		printf("  %-24s %llu\n", shunt_stat_names[i], (unsigned long long)s.stats[i]);
	print_bridge(&s);
	return 0;
}

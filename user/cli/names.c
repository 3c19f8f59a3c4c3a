// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

int names_load(struct shunt_ctx *c, struct names *n)
{
	return shunt_ep_read(c, &n->t);
}

void names_free(struct names *n)
{
	ep_table_free(&n->t);
}

const struct endpoint *names_ep(const struct names *n, __u32 ep_id)
{
	for (int i = 0; ep_id && i < n->t.n; i++)
		if (n->t.eps[i].ep_id == ep_id)
			return &n->t.eps[i];
	return NULL;
}

const char *names_net(const struct names *n, __u32 net_id)
{
	for (int i = 0; net_id && i < n->t.n; i++)
		if (n->t.eps[i].net_id == net_id)
			return n->t.eps[i].network;
	return net_id ? "?" : "-";
}

void names_addr_port(const struct shunt_addr *a, __u16 port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	addr_format(a, s, sizeof(s));
	snprintf(buf, len, a->family == SHUNT_AF_INET6 ? "[%s]:%u" : "%s:%u", s, port);
}

const char *names_tx(__u8 tx)
{
	switch (tx) {
	case SHUNT_TX_REDIR: return "redirect";
	case SHUNT_TX_TCP: return "tcp";
	case SHUNT_TX_DETOUR: return "detour";
	default: return "undecided";
	}
}

const char *names_reason(__u32 why)
{
	if (why >= SHUNT_ST_MAX)
		return "";
	return strncmp(shunt_stat_names[why], "tcp_", 4) ? shunt_stat_names[why] : shunt_stat_names[why] + 4;
}

json_object *names_end_json(const struct names *n, __u32 ep_id, const struct shunt_sock_key *k, int local)
{
	const struct endpoint *ep = names_ep(n, ep_id);
	json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN];

	addr_format(local ? &k->laddr : &k->raddr, a, sizeof(a));
	json_object_object_add(o, "endpoint", ep ? json_object_new_string(ep->name) : NULL);
	json_object_object_add(o, "address", json_object_new_string(a));
	json_object_object_add(o, "port", json_object_new_int(local ? k->lport : k->rport));
	if (ep) {
		json_object_object_add(o, "netns", json_object_new_string(ep->netns));
		json_object_object_add(o, "netns_cookie", json_object_new_uint64(ep->netns_cookie));
	} else if (local && k->netns) {
		json_object_object_add(o, "netns_cookie", json_object_new_uint64(k->netns));
	}
	return o;
}

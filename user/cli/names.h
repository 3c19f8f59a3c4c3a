/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Names for the ids BPF reports (endpoint, network), from the live table. */
#ifndef SHUNT_CLI_NAMES_H
#define SHUNT_CLI_NAMES_H

#include <json-c/json.h>

#include "loader.h"

struct names {
	struct ep_table t;
};

int names_load(struct shunt_ctx *c, struct names *n);
void names_free(struct names *n);
/* The endpoint with id @ep_id, or NULL (0, or gone meanwhile). */
const struct endpoint *names_ep(const struct names *n, __u32 ep_id);
/* The network with id @net_id, or "?" */
const char *names_net(const struct names *n, __u32 net_id);
/* "10.0.0.2:80" or "[fd00::2]:80" */
void names_addr_port(const struct shunt_addr *a, __u16 port, char *buf, size_t len);
const char *names_tx(__u8 tx);
/* The reason's name without "tcp_" (as status --json's tcp_reasons). */
const char *names_reason(__u32 why);
/* {"endpoint": NAME|null, "address": .., "port": .., "netns": ..} */
json_object *names_end_json(const struct names *n, __u32 ep_id, const struct shunt_sock_key *k, int local);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The endpoint table as the user sees it, and its pure parts: parsing and
 * validating addresses, MACs, names and endpoint files.  No BPF here, so the
 * unit tests can call all of it without root.
 */
#ifndef SHUNT_ENDPOINT_H
#define SHUNT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "shunt/shunt.h"
#include "error.h"

#define SHUNT_DEFAULT_NETWORK "default"

struct endpoint {
	char name[SHUNT_NAME_MAX + 1];
	char network[SHUNT_NET_MAX];
	char netns[SHUNT_NETNS_MAX];	/* "" = the caller's own netns */
	__u8 mac[6];
	bool has_mac;
	int naddrs;
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	/* resolved, not part of the file format */
	__u64 netns_cookie;
	__u32 net_id;
	__u32 ep_id;
};

struct ep_table {
	struct endpoint *eps;
	int n, cap;
};

/* Functions below return 0 or -errno with the reason in shunt_strerror(). */

int addr_parse(const char *s, struct shunt_addr *out);
void addr_format(const struct shunt_addr *a, char *buf, size_t len);
bool addr_equal(const struct shunt_addr *a, const struct shunt_addr *b);
int mac_parse(const char *s, __u8 mac[6]);
void mac_format(const __u8 mac[6], char *buf, size_t len);
int name_check(const char *name);
int network_check(const char *net);

int ep_table_add(struct ep_table *t, const struct endpoint *ep);
int ep_table_del(struct ep_table *t, const char *name);
struct endpoint *ep_table_find(struct ep_table *t, const char *name);
/* Checks names unique, addresses unique within a network. */
int ep_table_validate(const struct ep_table *t);
/* Gives every endpoint a net_id (same network, same id) and an ep_id. */
void ep_table_assign_ids(struct ep_table *t);
void ep_table_free(struct ep_table *t);

/* Endpoint file: {"endpoints": [{"name":..., "network":..., "netns":...,
 * "addresses": [...], "mac": ...}]}.  @what names the source in errors. */
int ep_table_parse_json(struct ep_table *t, const char *text, const char *what);
int ep_table_load_file(struct ep_table *t, const char *path);
/* Returns a malloc'd JSON string (pretty), or NULL on ENOMEM. */
char *ep_table_to_json(const struct ep_table *t);

#endif

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
#define SHUNT_OWNER_STATIC "static"
#define SHUNT_OWNER_DISCOVER "discover"	/* shunt discover --apply */
#define SHUNT_OWNER_BRIDGE "bridge"	/* the bridge agent: other VMs' endpoints */

struct endpoint {
	char name[SHUNT_NAME_MAX + 1];
	char network[SHUNT_NET_MAX];
	char netns[SHUNT_NETNS_MAX];	/* "" = the caller's own netns */
	__u8 mac[6];
	bool has_mac;
	int naddrs;
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	char owner[SHUNT_OWNER_MAX];	/* "" or "static": the CLI and files */
	char vm[SHUNT_NET_MAX];		/* "" here; else the VM it lives in (the vsock bridge) */
	__u64 cgroup_id;		/* the cgroup its owner attached; 0: none */
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
int vm_name_check(const char *vm);
/* "static", "discover", "bridge", "oci:<id>" or "cni:<network>/<id>/<ifname>", printable. */
int owner_check(const char *owner);
/* The entry's owner, "static" when none was set. */
const char *ep_owner(const struct endpoint *ep);
bool ep_owned_by(const struct endpoint *ep, const char *owner);

int ep_table_add(struct ep_table *t, const struct endpoint *ep);
int ep_table_del(struct ep_table *t, const char *name);
struct endpoint *ep_table_find(struct ep_table *t, const char *name);
/* Checks names unique, addresses unique within a network. */
int ep_table_validate(const struct ep_table *t);
/*
 * Index of the first entry of @t that @ep cannot coexist with (same name,
 * same address in the same network, or same address in the same netns
 * when both cookies are known), or -1.
 */
int ep_table_conflict(const struct ep_table *t, const struct endpoint *ep);
/* Removes the entries of @owner; returns how many. */
int ep_table_drop_owner(struct ep_table *t, const char *owner);
/*
 * Gives every endpoint without one an ep_id, and a net_id (that of another
 * entry of its network, else a new one).  New ids come from *ep_hw and
 * *net_hw, the highest ids ever handed out, which it raises: an id is
 * never reused, even after its endpoint was deleted.
 */
void ep_table_assign_ids(struct ep_table *t, __u32 *ep_hw, __u32 *net_hw);
/* Copies ep_id (by name) and net_id (by network) from @old into @t's
 * entries that have none, so ids survive a replacement. */
void ep_table_keep_ids(struct ep_table *t, const struct ep_table *old);
void ep_table_free(struct ep_table *t);

/* Endpoint file: {"endpoints": [{"name":..., "network":..., "netns":...,
 * "addresses": [...], "mac": ..., "owner": ..., "id": ...}]}.  "owner" and
 * "id" are what `endpoint list --json` shows; a file may carry them, so
 * that listing round-trips.  @what names the source in errors. */
int ep_table_parse_json(struct ep_table *t, const char *text, const char *what);
int ep_table_load_file(struct ep_table *t, const char *path);
/* Returns a malloc'd JSON string (pretty), or NULL on ENOMEM. */
char *ep_table_to_json(const struct ep_table *t);

#endif

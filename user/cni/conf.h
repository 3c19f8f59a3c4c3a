/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pure half of shunt-cni: the network configuration a runtime writes on
 * the plugin's stdin (CNI spec 1.0.0 and 1.1.0), the addresses a prevResult
 * gives an attachment, endpoint names and owners, GC's valid-attachments.
 * No BPF and no logging here, so a fuzzer can run all of it.
 */
#ifndef SHUNT_CNI_CONF_H
#define SHUNT_CNI_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "endpoint.h"

#define CNI_VERSION_LATEST "1.1.0"
#define CNI_LOCK_MS_DEFAULT 2000
#define CNI_LOCK_MS_MAX 600000

/* CNI's well-known error codes (spec, "Error codes"), and shunt-cni's own. */
enum cni_code {
	CNI_ERR_VERSION = 1,		/* incompatible CNI version */
	CNI_ERR_CONTAINER = 3,		/* container (its netns) unknown */
	CNI_ERR_ENV = 4,		/* invalid or missing environment */
	CNI_ERR_IO = 5,			/* I/O failure */
	CNI_ERR_DECODE = 6,		/* failed to decode content */
	CNI_ERR_CONFIG = 7,		/* invalid network config */
	CNI_ERR_AGAIN = 11,		/* try again later */
	CNI_ERR_UNAVAILABLE = 50,	/* STATUS: plugin not available */
	CNI_ERR_NOT_REGISTERED = 100,	/* CHECK: no entry of that owner */
	CNI_ERR_MISMATCH = 101,		/* CHECK: entry differs from prevResult */
	CNI_ERR_NOT_LOADED = 102,	/* shunt not loaded at pinDir */
	CNI_ERR_NO_ADDRESS = 103,	/* strict ADD: prevResult has no address */
	CNI_ERR_TABLE_FULL = 104,	/* strict ADD: endpoint table full */
	CNI_ERR_CONFLICT = 105,		/* name or address taken by another entry */
	CNI_ERR_CGROUP = 106,		/* conf "cgroup" cannot be attached */
};

struct cni_conf {
	char version[16];		/* "1.0.0" or "1.1.0" once parsed */
	char name[SHUNT_OWNER_MAX];	/* the conf's (network list's) name */
	char pin_dir[256];
	char network[SHUNT_NET_MAX];	/* "" = the conf's name */
	char log[512];			/* "" = stderr */
	char cgroup[512];		/* "" = attach nothing */
	int lock_ms;
	bool strict;
	json_object *root;		/* owned: the whole conf */
	json_object *prev;		/* in root: prevResult, NULL if absent */
};

/*
 * Parses @text into @c.  Errors: -EBADMSG (not a JSON object: code 6),
 * -EPROTONOSUPPORT (a cniVersion other than 1.0.0 and 1.1.0: code 1),
 * -EINVAL (a key of the wrong type or out of range: code 7).  c->version
 * is filled as soon as it is known, even when a later key fails, so that
 * the error can carry it.  Free with cni_conf_free() either way.
 */
int cni_conf_parse(const char *text, struct cni_conf *c);
void cni_conf_free(struct cni_conf *c);
/* The CNI code of a cni_conf_parse() error. */
int cni_conf_code(int err);

/*
 * The endpoint name "<id>-<ifname>" and owner "cni:<conf name>/<id>/<ifname>"
 * of an attachment; -EINVAL or -ENAMETOOLONG when they are not valid names.
 */
int cni_ident(const struct cni_conf *c, const char *id, const char *ifname,
	      char *name, size_t name_len, char *owner, size_t owner_len);
/* The shunt network: conf "network", else the conf's name; -EINVAL if not a
 * valid network name. */
int cni_network(const struct cni_conf *c, char *out, size_t len);

/*
 * The addresses an attachment gets from prevResult: every ips[].address
 * (its /prefix stripped) whose "interface" index points at an entry of
 * interfaces[] with "sandbox" equal to @netns or "name" equal to @ifname,
 * and every ip without an "interface".  IPv6 link-local addresses are left
 * out (as shunt_netns_addrs does), duplicates once.  At most @max land in
 * @out; *@dropped says how many more there were.  -EINVAL for a malformed
 * prevResult (a missing one is the caller's business).
 */
int cni_prev_addrs(json_object *prev, const char *netns, const char *ifname,
		   struct shunt_addr *out, int max, int *n, int *dropped);

/*
 * GC's list of attachments still in use: "cni.dev/valid-attachments"
 * (libcni also sends the spec's earlier misspelling "cni.dev/attachments",
 * taken when the first is absent).  -EINVAL if missing or malformed.
 */
int cni_valid_attachments(const struct cni_conf *c, json_object **list);
bool cni_attachment_listed(json_object *list, const char *id, const char *ifname);
/*
 * If @owner is "cni:<c->name>/<id>/<ifname>", its id and ifname; false for
 * owners of other networks, other plugins and static entries.
 */
bool cni_owner_split(const struct cni_conf *c, const char *owner,
		     char *id, size_t id_len, char *ifname, size_t ifname_len);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "endpoint.h"

int addr_parse(const char *s, struct shunt_addr *out)
{
	__u32 a[4] = {};

	memset(out, 0, sizeof(*out));
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a) != 1)
			return shunt_set_error(EINVAL, "bad IPv6 address \"%s\"", s);
		shunt_addr_set(out, 1, a);
	} else {
		if (inet_pton(AF_INET, s, a) != 1)
			return shunt_set_error(EINVAL, "bad IPv4 address \"%s\"", s);
		shunt_addr_set(out, 0, a);
	}
	if ((out->family == SHUNT_AF_INET && out->a[0] == 0) ||
	    (out->family == SHUNT_AF_INET6 && !(out->a[0] | out->a[1] |
						out->a[2] | out->a[3])))
		return shunt_set_error(EINVAL, "unspecified address \"%s\"", s);
	return 0;
}

void addr_format(const struct shunt_addr *a, char *buf, size_t len)
{
	inet_ntop(a->family == SHUNT_AF_INET ? AF_INET : AF_INET6, a->a, buf,
		  len);
}

bool addr_equal(const struct shunt_addr *a, const struct shunt_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

int mac_parse(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return shunt_set_error(EINVAL, "bad MAC address \"%s\"", s);
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

void mac_format(const __u8 mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

/* Names and networks: printable identifiers, as container runtimes use. */
static int ident_check(const char *what, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0)
		return shunt_set_error(EINVAL, "empty %s", what);
	if (n > max)
		return shunt_set_error(EINVAL, "%s \"%.20s...\" longer than %zu characters",
			    what, s, max);
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return shunt_set_error(EINVAL,
				    "%s \"%s\": only letters, digits, '.', '_' and '-'",
				    what, s);
	}
	return 0;
}

int name_check(const char *name)
{
	return ident_check("endpoint name", name, SHUNT_NAME_MAX);
}

int network_check(const char *net)
{
	return ident_check("network name", net, SHUNT_NET_MAX - 1);
}

int vm_name_check(const char *vm)
{
	return ident_check("VM name", vm, SHUNT_NET_MAX - 1);
}

int owner_check(const char *owner)
{
	size_t n = strlen(owner);

	if (n >= SHUNT_OWNER_MAX)
		return shunt_set_error(EINVAL, "owner \"%.20s...\" longer than %d characters",
				       owner, SHUNT_OWNER_MAX - 1);
	if (strcmp(owner, SHUNT_OWNER_STATIC) && strcmp(owner, SHUNT_OWNER_DISCOVER) &&
	    strcmp(owner, SHUNT_OWNER_BRIDGE) && strncmp(owner, "oci:", 4) && strncmp(owner, "cni:", 4))
		return shunt_set_error(EINVAL, "owner \"%s\": must be \"static\", \"discover\", \"bridge\", \"oci:...\" or \"cni:...\"",
				       owner);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)owner[i] <= 0x20 || owner[i] == 0x7f || owner[i] == '"')
			return shunt_set_error(EINVAL, "owner \"%s\": no spaces or control characters",
					       owner);
	return 0;
}

const char *ep_owner(const struct endpoint *ep)
{
	return ep->owner[0] ? ep->owner : SHUNT_OWNER_STATIC;
}

bool ep_owned_by(const struct endpoint *ep, const char *owner)
{
	return !strcmp(ep_owner(ep), owner);
}

struct endpoint *ep_table_find(struct ep_table *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->eps[i].name, name))
			return &t->eps[i];
	return NULL;
}

/* Checks one endpoint against the table it is about to join. */
static int ep_check_against(const struct ep_table *t, const struct endpoint *ep,
			    int upto)
{
	char buf[INET6_ADDRSTRLEN];

	for (int i = 0; i < upto; i++) {
		const struct endpoint *o = &t->eps[i];

		if (!strcmp(o->name, ep->name))
			return shunt_set_error(EEXIST, "endpoint \"%s\" already exists",
				    ep->name);
		if (strcmp(o->network, ep->network))
			continue;
		for (int a = 0; a < ep->naddrs; a++)
			for (int b = 0; b < o->naddrs; b++)
				if (addr_equal(&ep->addrs[a], &o->addrs[b])) {
					addr_format(&ep->addrs[a], buf, sizeof(buf));
					return shunt_set_error(EEXIST,
						    "address %s already belongs to endpoint \"%s\" in network \"%s\"",
						    buf, o->name, o->network);
				}
	}
	return 0;
}

static int ep_check_self(const struct endpoint *ep)
{
	char buf[INET6_ADDRSTRLEN];
	int err;

	err = name_check(ep->name);
	if (!err)
		err = network_check(ep->network);
	if (!err && ep->owner[0])
		err = owner_check(ep->owner);
	if (!err && ep->vm[0]) {
		err = ident_check("VM name", ep->vm, SHUNT_NET_MAX - 1);
		if (!err && ep->netns[0])
			err = shunt_set_error(EINVAL, "endpoint \"%s\": a VM's endpoint has no netns on this host (vm or netns, not both)",
					      ep->name);
	}
	if (err)
		return err;
	if (ep->naddrs < 1)
		return shunt_set_error(EINVAL, "endpoint \"%s\" has no address", ep->name);
	for (int a = 0; a < ep->naddrs; a++)
		for (int b = 0; b < a; b++)
			if (addr_equal(&ep->addrs[a], &ep->addrs[b])) {
				addr_format(&ep->addrs[a], buf, sizeof(buf));
				return shunt_set_error(EINVAL,
					    "endpoint \"%s\" lists address %s twice",
					    ep->name, buf);
			}
	return 0;
}

int ep_table_validate(const struct ep_table *t)
{
	int err;

	if (t->n > SHUNT_MAX_ENDPOINTS)
		return shunt_set_error(E2BIG, "%d endpoints, at most %d", t->n,
			    SHUNT_MAX_ENDPOINTS);
	for (int i = 0; i < t->n; i++) {
		err = ep_check_self(&t->eps[i]);
		if (!err)
			err = ep_check_against(t, &t->eps[i], i);
		if (err)
			return err;
	}
	return 0;
}

int ep_table_add(struct ep_table *t, const struct endpoint *ep)
{
	int err;

	err = ep_check_self(ep);
	if (!err)
		err = ep_check_against(t, ep, t->n);
	if (err)
		return err;
	if (t->n >= SHUNT_MAX_ENDPOINTS)
		return shunt_set_error(E2BIG, "endpoint table full (%d endpoints)",
			    SHUNT_MAX_ENDPOINTS);
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 16;
		struct endpoint *eps = realloc(t->eps, cap * sizeof(*eps));

		if (!eps)
			return shunt_set_error(ENOMEM, "out of memory");
		t->eps = eps;
		t->cap = cap;
	}
	t->eps[t->n++] = *ep;
	return 0;
}

int ep_table_del(struct ep_table *t, const char *name)
{
	struct endpoint *ep = ep_table_find(t, name);

	if (!ep)
		return shunt_set_error(ENOENT, "no endpoint \"%s\"", name);
	memmove(ep, ep + 1, (t->eps + t->n - ep - 1) * sizeof(*ep));
	t->n--;
	return 0;
}

int ep_table_conflict(const struct ep_table *t, const struct endpoint *ep)
{
	for (int i = 0; i < t->n; i++) {
		const struct endpoint *o = &t->eps[i];
		bool same_net = !strcmp(o->network, ep->network);
		bool same_ns = o->netns_cookie && o->netns_cookie == ep->netns_cookie;

		if (!strcmp(o->name, ep->name))
			return i;
		if (!same_net && !same_ns)
			continue;
		for (int a = 0; a < ep->naddrs; a++)
			for (int b = 0; b < o->naddrs; b++)
				if (addr_equal(&ep->addrs[a], &o->addrs[b]))
					return i;
	}
	return -1;
}

int ep_table_drop_owner(struct ep_table *t, const char *owner)
{
	int n = 0, k = 0;

	for (int i = 0; i < t->n; i++) {
		if (ep_owned_by(&t->eps[i], owner)) {
			n++;
			continue;
		}
		t->eps[k++] = t->eps[i];
	}
	t->n = k;
	return n;
}

/*
 * An id names one endpoint (ep_id) or network (net_id) for the instance's
 * whole life: the BPF side keeps the ids a connection was set up with in
 * its socket storage, and counters per endpoint will be keyed by them.  So
 * ids stay with their name across replacements (ep_table_keep_ids) and new
 * ones come from a high-water mark that only grows.
 */
void ep_table_assign_ids(struct ep_table *t, __u32 *ep_hw, __u32 *net_hw)
{
	for (int i = 0; i < t->n; i++) {
		if (t->eps[i].net_id > *net_hw)
			*net_hw = t->eps[i].net_id;
		if (t->eps[i].ep_id > *ep_hw)
			*ep_hw = t->eps[i].ep_id;
	}
	for (int i = 0; i < t->n; i++) {
		struct endpoint *ep = &t->eps[i];

		if (!ep->ep_id)
			ep->ep_id = ++*ep_hw;
		if (ep->net_id)
			continue;
		for (int j = 0; j < t->n; j++)
			if (j != i && t->eps[j].net_id &&
			    !strcmp(t->eps[j].network, ep->network)) {
				ep->net_id = t->eps[j].net_id;
				break;
			}
		if (!ep->net_id)
			ep->net_id = ++*net_hw;
	}
}

void ep_table_keep_ids(struct ep_table *t, const struct ep_table *old)
{
	for (int i = 0; i < t->n; i++) {
		struct endpoint *ep = &t->eps[i];

		for (int j = 0; j < old->n; j++) {
			const struct endpoint *o = &old->eps[j];

			if (!ep->ep_id && !strcmp(o->name, ep->name))
				ep->ep_id = o->ep_id;
			if (!ep->net_id && !strcmp(o->network, ep->network))
				ep->net_id = o->net_id;
		}
	}
}

void ep_table_free(struct ep_table *t)
{
	free(t->eps);
	memset(t, 0, sizeof(*t));
}

static int json_str(json_object *o, const char *key, char *dst, size_t len,
		    bool required, const char *what, int idx)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return shunt_set_error(EINVAL, "%s: endpoint %d: missing \"%s\"",
				    what, idx, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return shunt_set_error(EINVAL, "%s: endpoint %d: \"%s\" is not a string",
			    what, idx, key);
	s = json_object_get_string(v);
	if (strlen(s) >= len)
		return shunt_set_error(EINVAL, "%s: endpoint %d: \"%s\" longer than %zu characters",
			    what, idx, key, len - 1);
	strcpy(dst, s);
	return 0;
}

static int ep_from_json(json_object *o, struct endpoint *ep, const char *what,
			int idx)
{
	json_object *addrs, *v;
	char mac[32] = "";
	int err;

	memset(ep, 0, sizeof(*ep));
	if (!json_object_is_type(o, json_type_object))
		return shunt_set_error(EINVAL, "%s: endpoint %d is not an object", what, idx);
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "name") && strcmp(key, "network") &&
		    strcmp(key, "netns") && strcmp(key, "addresses") &&
		    strcmp(key, "mac") && strcmp(key, "owner") && strcmp(key, "id") &&
		    strcmp(key, "vm"))
			return shunt_set_error(EINVAL, "%s: endpoint %d: unknown key \"%s\"",
				    what, idx, key);
	}
	strcpy(ep->network, SHUNT_DEFAULT_NETWORK);
	err = json_str(o, "name", ep->name, sizeof(ep->name), true, what, idx);
	if (!err)
		err = json_str(o, "network", ep->network, sizeof(ep->network),
			       false, what, idx);
	if (!err)
		err = json_str(o, "netns", ep->netns, sizeof(ep->netns), false,
			       what, idx);
	if (!err)
		err = json_str(o, "mac", mac, sizeof(mac), false, what, idx);
	if (!err)
		err = json_str(o, "owner", ep->owner, sizeof(ep->owner), false, what, idx);
	if (!err)
		err = json_str(o, "vm", ep->vm, sizeof(ep->vm), false, what, idx);
	if (err)
		return err;
	/* "id" is shown by `endpoint list --json`; ids stay with names anyway. */
	if (json_object_object_get_ex(o, "id", &v) && !json_object_is_type(v, json_type_int))
		return shunt_set_error(EINVAL, "%s: endpoint \"%s\": \"id\" is not a number",
				       what, ep->name);
	if (mac[0]) {
		if (mac_parse(mac, ep->mac))
			return shunt_set_error(EINVAL, "%s: endpoint \"%s\": %s", what,
				    ep->name, shunt_strerror());
		ep->has_mac = true;
	}
	if (!json_object_object_get_ex(o, "addresses", &addrs) ||
	    !json_object_is_type(addrs, json_type_array))
		return shunt_set_error(EINVAL, "%s: endpoint \"%s\": \"addresses\" must be an array",
			    what, ep->name);
	if (json_object_array_length(addrs) > SHUNT_MAX_ADDRS)
		return shunt_set_error(EINVAL, "%s: endpoint \"%s\": more than %d addresses",
			    what, ep->name, SHUNT_MAX_ADDRS);
	for (size_t i = 0; i < json_object_array_length(addrs); i++) {
		v = json_object_array_get_idx(addrs, i);
		if (!json_object_is_type(v, json_type_string))
			return shunt_set_error(EINVAL, "%s: endpoint \"%s\": address %zu is not a string",
				    what, ep->name, i);
		if (addr_parse(json_object_get_string(v), &ep->addrs[ep->naddrs++]))
			return shunt_set_error(EINVAL, "%s: endpoint \"%s\": %s", what,
				    ep->name, shunt_strerror());
	}
	return 0;
}

/* json-c reports a byte offset; users want line and column. */
static void offset_to_linecol(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int ep_table_parse_json(struct ep_table *t, const char *text, const char *what)
{
	struct json_tokener *tok;
	json_object *root = NULL, *arr;
	struct endpoint ep;
	int line, col, err = 0;
	size_t len = strlen(text);

	memset(t, 0, sizeof(*t));
	tok = json_tokener_new();
	if (!tok)
		return shunt_set_error(ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, text, len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) < len) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		size_t off = json_tokener_get_parse_end(tok);

		/* Trailing garbage after a complete document, or truncation. */
		while (root && off < len && strchr(" \t\r\n", text[off]))
			off++;
		if (!root || off < len) {
			offset_to_linecol(text, off, &line, &col);
			err = shunt_set_error(EINVAL, "%s line %d column %d: %s", what, line, col,
				   root ? "unexpected data after the document" :
				   jerr == json_tokener_continue ?
				   "unexpected end of file" :
				   json_tokener_error_desc(jerr));
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "endpoints", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		err = shunt_set_error(EINVAL, "%s: expected {\"endpoints\": [...]}", what);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		err = ep_from_json(json_object_array_get_idx(arr, i), &ep, what,
				   (int)i);
		if (err)
			goto out;
		err = ep_table_add(t, &ep);
		if (err) {
			err = shunt_set_error(-err, "%s: %s", what, shunt_strerror());
			goto out;
		}
	}
out:
	if (err)
		ep_table_free(t);
	json_object_put(root);
	json_tokener_free(tok);
	return err;
}

int ep_table_load_file(struct ep_table *t, const char *path)
{
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int err;

	f = fopen(path, "r");
	if (!f)
		return shunt_set_error(errno, "cannot open endpoint file %s: %s", path,
			    strerror(errno));
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			p = realloc(text, cap);
			if (!p) {
				free(text);
				fclose(f);
				return shunt_set_error(ENOMEM, "out of memory");
			}
			text = p;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	text[len] = 0;
	if (strlen(text) != len) {
		free(text);
		return shunt_set_error(EINVAL, "endpoint file %s: contains a NUL byte", path);
	}
	{
		char what[300];

		snprintf(what, sizeof(what), "endpoint file %s", path);
		err = ep_table_parse_json(t, text, what);
	}
	free(text);
	return err;
}

char *ep_table_to_json(const struct ep_table *t)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char buf[INET6_ADDRSTRLEN];
	char *out;

	json_object_object_add(root, "endpoints", arr);
	for (int i = 0; i < t->n; i++) {
		const struct endpoint *ep = &t->eps[i];
		json_object *o = json_object_new_object(), *addrs = json_object_new_array();

		json_object_object_add(o, "name", json_object_new_string(ep->name));
		json_object_object_add(o, "network", json_object_new_string(ep->network));
		if (ep->netns[0])
			json_object_object_add(o, "netns", json_object_new_string(ep->netns));
		if (ep->vm[0])
			json_object_object_add(o, "vm", json_object_new_string(ep->vm));
		for (int a = 0; a < ep->naddrs; a++) {
			addr_format(&ep->addrs[a], buf, sizeof(buf));
			json_object_array_add(addrs, json_object_new_string(buf));
		}
		json_object_object_add(o, "addresses", addrs);
		if (ep->has_mac) {
			mac_format(ep->mac, buf, sizeof(buf));
			json_object_object_add(o, "mac", json_object_new_string(buf));
		}
		json_object_object_add(o, "owner", json_object_new_string(ep_owner(ep)));
		if (ep->ep_id)
			json_object_object_add(o, "id", json_object_new_int64(ep->ep_id));
		json_object_array_add(arr, o);
	}
	out = strdup(json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
			JSON_C_TO_STRING_SPACED));
	json_object_put(root);
	return out;
}

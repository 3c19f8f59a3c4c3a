// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt-cni's network configuration and prevResult (see conf.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "conf.h"
#include "loader.h"

static const char *const cni_versions[] = { "1.0.0", "1.1.0" };

int cni_conf_code(int err)
{
	switch (err) {
	case -EBADMSG:
		return CNI_ERR_DECODE;
	case -EPROTONOSUPPORT:
		return CNI_ERR_VERSION;
	default:
		return CNI_ERR_CONFIG;
	}
}

/* @key of @o as a string into @dst; absent or null leaves @dst as it is. */
static int get_str(json_object *o, const char *key, char *dst, size_t len)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return shunt_set_error(EINVAL, "conf: \"%s\" is not a string", key);
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return shunt_set_error(EINVAL, "conf: \"%s\" holds a NUL character", key);
	if (strlen(s) >= len)
		return shunt_set_error(EINVAL, "conf: \"%s\" longer than %zu characters", key, len - 1);
	snprintf(dst, len, "%s", s);
	return 0;
}

int cni_conf_parse(const char *text, struct cni_conf *c)
{
	struct json_tokener *tok;
	json_object *v;
	size_t len = strlen(text), end;
	bool known = false;
	int err;

	memset(c, 0, sizeof(*c));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", SHUNT_DEFAULT_PIN_DIR);
	c->lock_ms = CNI_LOCK_MS_DEFAULT;

	tok = json_tokener_new();
	if (!tok)
		return shunt_set_error(ENOMEM, "out of memory");
	c->root = json_tokener_parse_ex(tok, text, len);
	if (!c->root) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);

		/* continue: the text ended inside a value (or was empty) */
		err = shunt_set_error(EBADMSG, "network configuration on stdin is not JSON: %s",
				      jerr == json_tokener_continue ? "unexpected end of input"
								     : json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return err;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len)
		return shunt_set_error(EBADMSG, "network configuration on stdin: text after the JSON object (offset %zu)",
				       end);
	if (!json_object_is_type(c->root, json_type_object))
		return shunt_set_error(EBADMSG, "network configuration on stdin is not a JSON object");

	/* "log" early, so that even a version error reaches the log file
	 * (checked for real below). */
	if (get_str(c->root, "log", c->log, sizeof(c->log)))
		c->log[0] = 0;
	/* The version first: an old conf is answered with code 1, whatever
	 * else it holds. */
	if (!json_object_object_get_ex(c->root, "cniVersion", &v) ||
	    !json_object_is_type(v, json_type_string))
		return shunt_set_error(EPROTONOSUPPORT, "conf has no \"cniVersion\" string (shunt-cni supports 1.0.0 and 1.1.0)");
	err = get_str(c->root, "cniVersion", c->version, sizeof(c->version));
	if (err)
		return shunt_set_error(EPROTONOSUPPORT, "%s", shunt_strerror());
	for (size_t i = 0; i < sizeof(cni_versions) / sizeof(cni_versions[0]); i++)
		known |= !strcmp(c->version, cni_versions[i]);
	if (!known)
		return shunt_set_error(EPROTONOSUPPORT, "cniVersion \"%s\" is not supported (shunt-cni supports 1.0.0 and 1.1.0)",
				       c->version);

	err = get_str(c->root, "name", c->name, sizeof(c->name));
	if (!err && !c->name[0])
		err = shunt_set_error(EINVAL, "conf has no \"name\"");
	if (!err)
		err = get_str(c->root, "pinDir", c->pin_dir, sizeof(c->pin_dir));
	if (!err)
		err = get_str(c->root, "network", c->network, sizeof(c->network));
	if (!err)
		err = get_str(c->root, "log", c->log, sizeof(c->log));
	if (!err)
		err = get_str(c->root, "cgroup", c->cgroup, sizeof(c->cgroup));
	if (err)
		return err;
	if (!c->pin_dir[0])
		return shunt_set_error(EINVAL, "conf: \"pinDir\" is empty");
	if (c->cgroup[0] && c->cgroup[0] != '/')
		return shunt_set_error(EINVAL, "conf: \"cgroup\" must be an absolute path (a cgroup v2 directory), not \"%s\"",
				       c->cgroup);
	if (json_object_object_get_ex(c->root, "lockTimeout", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		int64_t ms = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || ms < 0 || ms > CNI_LOCK_MS_MAX)
			return shunt_set_error(EINVAL, "conf: \"lockTimeout\" takes milliseconds (0-%d)",
					       CNI_LOCK_MS_MAX);
		c->lock_ms = (int)ms;
	}
	if (json_object_object_get_ex(c->root, "strict", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean))
			return shunt_set_error(EINVAL, "conf: \"strict\" is not true or false");
		c->strict = json_object_get_boolean(v);
	}
	/* Checked by the commands that use it: DEL must work without one. */
	if (json_object_object_get_ex(c->root, "prevResult", &v) &&
	    !json_object_is_type(v, json_type_null))
		c->prev = v;
	return 0;
}

void cni_conf_free(struct cni_conf *c)
{
	json_object_put(c->root);
	c->root = c->prev = NULL;
}

int cni_ident(const struct cni_conf *c, const char *id, const char *ifname,
	      char *name, size_t name_len, char *owner, size_t owner_len)
{
	int err;

	if ((size_t)snprintf(name, name_len, "%s-%s", id, ifname) >= name_len)
		return shunt_set_error(ENAMETOOLONG, "endpoint name \"<CNI_CONTAINERID>-<CNI_IFNAME>\" (%zu characters) does not fit shunt's %d",
				       strlen(id) + 1 + strlen(ifname), SHUNT_NAME_MAX);
	err = name_check(name);
	if (err)
		return shunt_set_error(err, "CNI_CONTAINERID and CNI_IFNAME make %s", shunt_strerror());
	if ((size_t)snprintf(owner, owner_len, "cni:%s/%s/%s", c->name, id, ifname) >= owner_len)
		return shunt_set_error(ENAMETOOLONG, "owner \"cni:<name>/<CNI_CONTAINERID>/<CNI_IFNAME>\" (%zu characters) does not fit shunt's %d: use a shorter conf name",
				       4 + strlen(c->name) + 1 + strlen(id) + 1 + strlen(ifname),
				       SHUNT_OWNER_MAX - 1);
	return owner_check(owner);
}

int cni_network(const struct cni_conf *c, char *out, size_t len)
{
	const char *net = c->network[0] ? c->network : c->name;
	int err;

	err = network_check(net);
	if (err)
		return shunt_set_error(err, "%s%s", shunt_strerror(),
				       c->network[0] ? "" : " (the conf's name; set \"network\" to another)");
	snprintf(out, len, "%s", net);
	return 0;
}

/* Does prevResult's interfaces[@idx] live in this attachment's sandbox? */
static int iface_ours(json_object *ifaces, json_object *idx, const char *netns,
		      const char *ifname, int i, bool *ours)
{
	json_object *ifc, *v;
	int64_t k;

	*ours = false;
	if (!json_object_is_type(idx, json_type_int))
		return shunt_set_error(EINVAL, "prevResult: ips[%d].interface is not an index", i);
	k = json_object_get_int64(idx);
	if (!ifaces || k < 0 || k >= (int64_t)json_object_array_length(ifaces))
		return 0;	/* points nowhere: not an interface of ours */
	ifc = json_object_array_get_idx(ifaces, k);
	if (!json_object_is_type(ifc, json_type_object))
		return shunt_set_error(EINVAL, "prevResult: interfaces[%lld] is not an object",
				       (long long)k);
	if (json_object_object_get_ex(ifc, "sandbox", &v) &&
	    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), netns))
		*ours = true;
	if (json_object_object_get_ex(ifc, "name", &v) &&
	    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), ifname))
		*ours = true;
	return 0;
}

int cni_prev_addrs(json_object *prev, const char *netns, const char *ifname,
		   struct shunt_addr *out, int max, int *n, int *dropped)
{
	json_object *ips, *ifaces = NULL, *ip, *v;
	struct shunt_addr a;
	char buf[INET6_ADDRSTRLEN + 8];
	int err, nips;

	*n = *dropped = 0;
	if (!json_object_is_type(prev, json_type_object))
		return shunt_set_error(EINVAL, "prevResult is not an object");
	if (json_object_object_get_ex(prev, "interfaces", &ifaces) &&
	    !json_object_is_type(ifaces, json_type_null)) {
		if (!json_object_is_type(ifaces, json_type_array))
			return shunt_set_error(EINVAL, "prevResult: \"interfaces\" is not an array");
	} else {
		ifaces = NULL;
	}
	if (!json_object_object_get_ex(prev, "ips", &ips) || json_object_is_type(ips, json_type_null))
		return 0;
	if (!json_object_is_type(ips, json_type_array))
		return shunt_set_error(EINVAL, "prevResult: \"ips\" is not an array");
	nips = json_object_array_length(ips);
	for (int i = 0; i < nips; i++) {
		struct in6_addr a6;
		const char *s;
		bool ours = true, have = false;
		char *slash;

		ip = json_object_array_get_idx(ips, i);
		if (!json_object_is_type(ip, json_type_object))
			return shunt_set_error(EINVAL, "prevResult: ips[%d] is not an object", i);
		if (json_object_object_get_ex(ip, "interface", &v) &&
		    !json_object_is_type(v, json_type_null) &&
		    (err = iface_ours(ifaces, v, netns, ifname, i, &ours)))
			return err;
		if (!json_object_object_get_ex(ip, "address", &v) ||
		    !json_object_is_type(v, json_type_string))
			return shunt_set_error(EINVAL, "prevResult: ips[%d] has no \"address\" string", i);
		s = json_object_get_string(v);
		if (strlen(s) >= sizeof(buf))
			return shunt_set_error(EINVAL, "prevResult: ips[%d].address is not an address", i);
		snprintf(buf, sizeof(buf), "%s", s);
		slash = strchr(buf, '/');
		if (slash)
			*slash = 0;
		err = addr_parse(buf, &a);
		if (err)
			return shunt_set_error(err, "prevResult: ips[%d].address: %s", i, shunt_strerror());
		/* Link-local addresses are per link, not the container's own:
		 * shunt_netns_addrs leaves them out too. */
		if (a.family == SHUNT_AF_INET6 && inet_pton(AF_INET6, buf, &a6) == 1 &&
		    IN6_IS_ADDR_LINKLOCAL(&a6))
			continue;
		if (!ours)
			continue;
		for (int k = 0; k < *n; k++)
			have |= addr_equal(&out[k], &a);
		if (have)
			continue;
		if (*n < max)
			out[(*n)++] = a;
		else
			(*dropped)++;
	}
	return 0;
}

int cni_valid_attachments(const struct cni_conf *c, json_object **list)
{
	static const char *const keys[] = { "cni.dev/valid-attachments", "cni.dev/attachments" };
	json_object *l = NULL, *e, *v;
	const char *key = keys[0];
	int n;

	*list = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !l; i++)
		if (json_object_object_get_ex(c->root, keys[i], &l))
			key = keys[i];
	if (!l)
		return shunt_set_error(EINVAL, "GC: conf has no \"cni.dev/valid-attachments\" (refusing to collect every attachment)");
	if (!json_object_is_type(l, json_type_array))
		return shunt_set_error(EINVAL, "GC: \"%s\" is not an array", key);
	n = json_object_array_length(l);
	for (int i = 0; i < n; i++) {
		e = json_object_array_get_idx(l, i);
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "containerID", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    !json_object_object_get_ex(e, "ifname", &v) ||
		    !json_object_is_type(v, json_type_string))
			return shunt_set_error(EINVAL, "GC: \"%s\"[%d] is not {\"containerID\": ..., \"ifname\": ...}",
					       key, i);
	}
	*list = l;
	return 0;
}

bool cni_attachment_listed(json_object *list, const char *id, const char *ifname)
{
	int n = json_object_array_length(list);
	json_object *e, *cid, *ifn;

	for (int i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(e, "containerID", &cid) &&
		    json_object_object_get_ex(e, "ifname", &ifn) &&
		    !strcmp(json_object_get_string(cid), id) &&
		    !strcmp(json_object_get_string(ifn), ifname))
			return true;
	}
	return false;
}

/*
 * CNI container ids hold no '/' (spec: alphanumerics, '_', '.', '-') and
 * interface names cannot, so after "cni:<name>/" the first '/' splits.
 */
bool cni_owner_split(const struct cni_conf *c, const char *owner,
		     char *id, size_t id_len, char *ifname, size_t ifname_len)
{
	size_t n = strlen(c->name);
	const char *rest, *slash;

	if (strncmp(owner, "cni:", 4) || strncmp(owner + 4, c->name, n) || owner[4 + n] != '/')
		return false;
	rest = owner + 4 + n + 1;
	slash = strchr(rest, '/');
	if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
		return false;
	if ((size_t)(slash - rest) >= id_len || strlen(slash + 1) >= ifname_len)
		return false;
	snprintf(id, id_len, "%.*s", (int)(slash - rest), rest);
	snprintf(ifname, ifname_len, "%s", slash + 1);
	return true;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The bridge's pure parts: wire format, transport names, the VM list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "bridge.h"

_Static_assert(sizeof(struct shunt_br_hdr) == 128, "wire header is 128 bytes");
_Static_assert(sizeof(struct shunt_br_reply) == 48, "wire reply is 48 bytes");

const char *const shunt_br_stat_names[SHUNT_BR_MAX] = {
	[SHUNT_BR_STEERED]		= "steered",
	[SHUNT_BR_NO_AGENT]		= "fallback_no_agent",
	[SHUNT_BR_OTHER_NETNS]		= "fallback_other_netns",
	[SHUNT_BR_AMBIGUOUS]		= "fallback_ambiguous",
	[SHUNT_BR_OPENED]		= "opened",
	[SHUNT_BR_ACCEPTED]		= "accepted",
	[SHUNT_BR_BYTES_OUT]		= "bytes_out",
	[SHUNT_BR_BYTES_IN]		= "bytes_in",
	[SHUNT_BR_ABORTED]		= "aborted",
	[SHUNT_BR_REFUSED]		= "refused",
	[SHUNT_BR_NO_ORIG]		= "rejected_no_steering",
	[SHUNT_BR_RELAY_DOWN]		= "relay_down",
	[SHUNT_BR_REJ_HEADER]		= "rejected_header",
	[SHUNT_BR_REJ_UNKNOWN_VM]	= "rejected_unknown_vm",
	[SHUNT_BR_REJ_NOT_EP]		= "rejected_not_endpoint",
	[SHUNT_BR_REJ_NETWORK]		= "rejected_network",
	[SHUNT_BR_RELAYED]		= "relayed",
	[SHUNT_BR_DST_DOWN]		= "destination_down",
	[SHUNT_BR_LISTS]		= "lists_served",
};

static const char *const status_str[SHUNT_BR_S_MAX] = {
	[SHUNT_BR_S_OK]			= "ok",
	[SHUNT_BR_S_REFUSED]		= "connection refused",
	[SHUNT_BR_S_UNREACHABLE]	= "destination unreachable",
	[SHUNT_BR_S_UNKNOWN_VM]		= "unknown VM",
	[SHUNT_BR_S_NOT_EP]		= "not a registered endpoint of that VM",
	[SHUNT_BR_S_NETWORK]		= "source VM not in that network",
	[SHUNT_BR_S_BAD_HEADER]		= "malformed request",
	[SHUNT_BR_S_DST_DOWN]		= "destination VM's agent unreachable",
};

const char *shunt_br_status_str(int status)
{
	if (status < 0 || status >= SHUNT_BR_S_MAX)
		return "unknown status";
	return status_str[status];
}

int shunt_br_connect_status(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return SHUNT_BR_S_OK;
	case ECONNREFUSED:
	case ECONNRESET:
		return SHUNT_BR_S_REFUSED;
	default:	/* ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ... */
		return SHUNT_BR_S_UNREACHABLE;
	}
}

int shunt_br_status_stat(int status)
{
	switch (status) {
	case SHUNT_BR_S_REFUSED:
	case SHUNT_BR_S_UNREACHABLE:
		return SHUNT_BR_REFUSED;
	case SHUNT_BR_S_UNKNOWN_VM:
		return SHUNT_BR_REJ_UNKNOWN_VM;
	case SHUNT_BR_S_NOT_EP:
		return SHUNT_BR_REJ_NOT_EP;
	case SHUNT_BR_S_NETWORK:
		return SHUNT_BR_REJ_NETWORK;
	case SHUNT_BR_S_DST_DOWN:
		return SHUNT_BR_DST_DOWN;
	default:
		return SHUNT_BR_REJ_HEADER;
	}
}

static void hdr_init(struct shunt_br_hdr *h, int type)
{
	memset(h, 0, sizeof(*h));
	h->magic = htonl(SHUNT_BR_MAGIC);
	h->version = SHUNT_BR_VERSION;
	h->type = type;
}

void shunt_br_hdr_open(struct shunt_br_hdr *h, const char *dst_vm, const char *network,
		       const struct shunt_addr *addr, __u16 port)
{
	hdr_init(h, SHUNT_BR_T_OPEN);
	h->family = addr->family;
	h->port = htons(port);
	memcpy(h->addr, addr->a, addr->family == SHUNT_AF_INET ? 4 : 16);
	snprintf(h->dst_vm, sizeof(h->dst_vm), "%s", dst_vm);
	snprintf(h->network, sizeof(h->network), "%s", network);
}

void shunt_br_hdr_list(struct shunt_br_hdr *h, int type)
{
	hdr_init(h, type);
}

void shunt_br_hdr_addr(const struct shunt_br_hdr *h, struct shunt_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = h->family;
	memcpy(a->a, h->addr, h->family == SHUNT_AF_INET ? 4 : 16);
}

/* A NUL-terminated name field: "" allowed if @may_be_empty. */
static int name_field(const char *f, size_t len, bool may_be_empty, const char *what)
{
	if (!memchr(f, 0, len))
		return shunt_set_error(EPROTO, "%s is not NUL-terminated", what);
	if (!f[0])
		return may_be_empty ? 0 : shunt_set_error(EPROTO, "%s is empty", what);
	if (strcmp(what, "network") ? vm_name_check(f) : network_check(f))
		return shunt_set_error(EPROTO, "%s", shunt_strerror());
	return 0;
}

static bool all_zero(const void *p, size_t len)
{
	const __u8 *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int shunt_br_hdr_check(const struct shunt_br_hdr *h, bool stamped)
{
	int err;

	if (ntohl(h->magic) != SHUNT_BR_MAGIC)
		return shunt_set_error(EPROTO, "not a shunt bridge request (magic %08x)", ntohl(h->magic));
	if (h->version != SHUNT_BR_VERSION)
		return shunt_set_error(EPROTO, "bridge protocol version %u, this is %u",
				       h->version, SHUNT_BR_VERSION);
	if (h->pad0 || h->pad1 || !all_zero(h->pad2, sizeof(h->pad2)))
		return shunt_set_error(EPROTO, "padding not zero");
	if (stamped ? !h->src_vm[0] : !all_zero(h->src_vm, sizeof(h->src_vm)))
		return shunt_set_error(EPROTO, stamped ? "no source VM" : "source VM set by a guest");
	if (stamped && (err = name_field(h->src_vm, sizeof(h->src_vm), false, "source VM")))
		return err;
	if (h->type == SHUNT_BR_T_LIST || h->type == SHUNT_BR_T_WATCH) {
		if (h->family || h->port || !all_zero(h->addr, sizeof(h->addr)) ||
		    !all_zero(h->dst_vm, sizeof(h->dst_vm)) || !all_zero(h->network, sizeof(h->network)))
			return shunt_set_error(EPROTO, "%s with arguments",
					       h->type == SHUNT_BR_T_LIST ? "LIST" : "WATCH");
		return 0;
	}
	if (h->type != SHUNT_BR_T_OPEN)
		return shunt_set_error(EPROTO, "unknown request type %u", h->type);
	if (h->family != SHUNT_AF_INET && h->family != SHUNT_AF_INET6)
		return shunt_set_error(EPROTO, "address family %u", h->family);
	if (h->family == SHUNT_AF_INET && !all_zero(h->addr + 4, 12))
		return shunt_set_error(EPROTO, "IPv4 address with trailing bytes");
	if (!h->port)
		return shunt_set_error(EPROTO, "port 0");
	err = name_field(h->dst_vm, sizeof(h->dst_vm), false, "destination VM");
	if (!err)
		err = name_field(h->network, sizeof(h->network), false, "network");
	return err;
}

void shunt_br_reply_fill(struct shunt_br_reply *r, int status, __u32 len, const char *vm)
{
	memset(r, 0, sizeof(*r));
	r->magic = htonl(SHUNT_BR_MAGIC);
	r->version = SHUNT_BR_VERSION;
	r->status = status;
	r->len = htonl(len);
	if (vm)
		snprintf(r->vm, sizeof(r->vm), "%s", vm);
}

int shunt_br_reply_check(const struct shunt_br_reply *r)
{
	if (ntohl(r->magic) != SHUNT_BR_MAGIC || r->version != SHUNT_BR_VERSION)
		return shunt_set_error(EPROTO, "not a shunt bridge reply");
	if (r->status >= SHUNT_BR_S_MAX)
		return shunt_set_error(EPROTO, "reply status %u", r->status);
	if (ntohl(r->len) > SHUNT_BR_LIST_MAX)
		return shunt_set_error(EPROTO, "reply of %u bytes", ntohl(r->len));
	if (!memchr(r->vm, 0, sizeof(r->vm)))
		return shunt_set_error(EPROTO, "reply VM name not NUL-terminated");
	return 0;
}

/* --- transports -------------------------------------------------------- */

static int parse_u32(const char *s, __u32 *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffu)
		return -1;
	*out = v;
	return 0;
}

int shunt_xport_parse(const char *s, bool relay_side, struct shunt_xport *x)
{
	const char *path = NULL;

	memset(x, 0, sizeof(*x));
	if (!strcmp(s, "vsock") && !relay_side) {
		x->kind = SHUNT_XP_VSOCK;
		x->cid = SHUNT_BR_HOST_CID;
		return 0;
	}
	if (!strncmp(s, "vsock:", 6)) {
		x->kind = SHUNT_XP_VSOCK;
		/*
		 * The agent names the host's CID (2), the relay a guest's (3 and
		 * up).  1 is vsock_loopback: both ends in one kernel, which is
		 * how a QEMU guest tests the real transport (t_bridge_vsock).
		 * 0 (hypervisor) and -1U (any) are never a peer.
		 */
		if (parse_u32(s + 6, &x->cid) || x->cid == 0 || x->cid == 0xffffffffu ||
		    (relay_side ? x->cid == SHUNT_BR_HOST_CID : x->cid > SHUNT_BR_HOST_CID))
			return shunt_set_error(EINVAL, relay_side ?
					       "transport \"%s\": a guest's CID is 3 to 4294967294 (1: vsock_loopback, for tests)" :
					       "transport \"%s\": the host's CID is 2 (1: vsock_loopback, for tests)", s);
		return 0;
	}
	if (!strncmp(s, "unix:", 5)) {
		x->kind = SHUNT_XP_UNIX;
		path = s + 5;
	} else if (!strncmp(s, "hybrid:", 7) && relay_side) {
		x->kind = SHUNT_XP_HYBRID;
		path = s + 7;
	}
	if (!path)
		return shunt_set_error(EINVAL, relay_side ?
				       "transport \"%s\": expected vsock:CID, hybrid:PATH or unix:PATH" :
				       "transport \"%s\": expected vsock, vsock:CID or unix:PATH", s);
	if (path[0] != '/')
		return shunt_set_error(EINVAL, "transport \"%s\": the path must be absolute", s);
	/* room for "_<port>" after it in a sun_path */
	if (strlen(path) + 12 > sizeof(x->path))
		return shunt_set_error(ENAMETOOLONG, "transport \"%s\": path longer than %zu bytes", s,
				       sizeof(x->path) - 12);
	snprintf(x->path, sizeof(x->path), "%s", path);
	return 0;
}

void shunt_xport_format(const struct shunt_xport *x, char *buf, size_t len)
{
	switch (x->kind) {
	case SHUNT_XP_VSOCK:
		snprintf(buf, len, "vsock:%u", x->cid);
		break;
	case SHUNT_XP_UNIX:
		snprintf(buf, len, "unix:%s", x->path);
		break;
	case SHUNT_XP_HYBRID:
		snprintf(buf, len, "hybrid:%s", x->path);
		break;
	default:
		snprintf(buf, len, "?");
	}
}

/* --- the relay's VMs ------------------------------------------------- */

static int vm_add(struct shunt_br_vms *vms, const char *name, const char *xport,
		  const char *what, int line)
{
	struct shunt_br_vm vm = { .listen_fd = -1 }, *n;
	char where[160] = "";

	if (what)
		snprintf(where, sizeof(where), "%s:%d: ", what, line);
	if (vm_name_check(name))
		return shunt_set_error(EINVAL, "%s%s", where, shunt_strerror());
	if (shunt_xport_parse(xport, true, &vm.x))
		return shunt_set_error(EINVAL, "%sVM %s: %s", where, name, shunt_strerror());
	for (int i = 0; i < vms->n; i++) {
		if (!strcmp(vms->v[i].name, name))
			return shunt_set_error(EEXIST, "%sVM %s listed twice", where, name);
		if (vms->v[i].x.kind == vm.x.kind &&
		    (vm.x.kind == SHUNT_XP_VSOCK ? vms->v[i].x.cid == vm.x.cid :
		     !strcmp(vms->v[i].x.path, vm.x.path)))
			return shunt_set_error(EEXIST, "%sVMs %s and %s have the same transport",
					       where, vms->v[i].name, name);
	}
	snprintf(vm.name, sizeof(vm.name), "%s", name);
	n = realloc(vms->v, (vms->n + 1) * sizeof(*n));
	if (!n)
		return shunt_set_error(ENOMEM, "out of memory");
	vms->v = n;
	vms->v[vms->n++] = vm;
	return 0;
}

int shunt_br_vm_add(struct shunt_br_vms *vms, const char *spec)
{
	char name[SHUNT_NET_MAX + 1];
	const char *eq = strchr(spec, '=');

	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(name))
		return shunt_set_error(EINVAL, "--vm \"%s\": expected NAME=TRANSPORT", spec);
	memcpy(name, spec, eq - spec);
	name[eq - spec] = 0;
	return vm_add(vms, name, eq + 1, NULL, 0);
}

int shunt_br_vms_parse(struct shunt_br_vms *vms, const char *text, const char *what)
{
	const char *p = text;
	int line = 0;

	while (*p) {
		char buf[512], name[128], xport[256], extra[8];
		size_t len = strcspn(p, "\n");
		int n;

		line++;
		if (len >= sizeof(buf))
			return shunt_set_error(EINVAL, "%s:%d: line too long", what, line);
		memcpy(buf, p, len);
		buf[len] = 0;
		p += len + (p[len] == '\n');
		buf[strcspn(buf, "#")] = 0;
		n = sscanf(buf, "%127s %255s %7s", name, xport, extra);
		if (n <= 0)
			continue;
		if (n != 2)
			return shunt_set_error(EINVAL, "%s:%d: expected \"NAME TRANSPORT\"", what, line);
		if (vm_add(vms, name, xport, what, line))
			return -EINVAL;
	}
	return 0;
}

void shunt_br_vms_free(struct shunt_br_vms *vms)
{
	free(vms->v);
	vms->v = NULL;
	vms->n = 0;
}

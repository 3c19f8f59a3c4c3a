// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt-cni's commands against the pinned instance.  An attachment (one
 * container id and interface name) owns exactly one endpoint, owner
 * "cni:<conf name>/<id>/<ifname>", so DEL and GC remove precisely what its
 * ADD made and never another owner's entries (the CLI's, the OCI hook's,
 * another network's).  Like the OCI hook, ADD never keeps a container from
 * starting over something shunt merely cannot do now (not loaded, locked,
 * full, no address): a log line, prevResult passed on, unless "strict".
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "cni.h"
#include "loader.h"

/* Messages quote the environment and paths: one printable line, as the
 * library's own (shunt_set_error). */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int cni_fail(struct cni_run *r, int code, const char *details, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	snprintf(r->details, sizeof(r->details), "%s", details ?: "");
	one_line(r->msg);
	one_line(r->details);
	r->code = code;
	return code;
}

/*
 * Something shunt cannot do now, which must not fail the container: one
 * log line and success (ADD then passes prevResult on), or with "strict"
 * the error @code.
 */
static int soft(struct cni_run *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int soft(struct cni_run *r, int code, const char *fmt, ...)
{
	char msg[sizeof(r->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	if (r->conf.strict)
		return cni_fail(r, code, NULL, "%s", msg);
	cni_warn("%s: %s (the container goes on, over TCP)\n", r->tag, msg);
	return 0;
}

/* shunt_open(), and shunt_lock() for a writer: 0 or the library's -errno
 * (-ENOENT: not loaded at pinDir, -ETIMEDOUT: locked too long). */
static int open_instance(struct cni_run *r, struct shunt_ctx *ctx, bool lock)
{
	int err;

	err = shunt_open(ctx, r->conf.pin_dir);
	if (!err && lock) {
		err = shunt_lock(ctx, r->conf.lock_ms);
		if (err)
			shunt_close(ctx);
	}
	return err;
}

/*
 * DEL and GC: the instance, locked.  Returns 0 with @ctx open; -1 when
 * there is nothing to do (not loaded at pinDir: no entry can exist),
 * logged with @what; else the CNI error code (11 when locked too long).
 */
static int open_writer(struct cni_run *r, struct shunt_ctx *ctx, const char *what)
{
	int err = open_instance(r, ctx, true);

	if (err == -ENOENT) {
		cni_info("%s: nothing to %s: not loaded at %s\n", r->tag, what, r->conf.pin_dir);
		return -1;
	}
	if (err == -ETIMEDOUT)
		return cni_fail(r, CNI_ERR_AGAIN, NULL, "%s", shunt_strerror());
	if (err)
		return cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
	return 0;
}

/*
 * The conf's "cgroup": a parent of the containers' cgroups (podman's
 * /libpod_parent, kubelet's kubepods.slice), attached once for every
 * container of the network.  It may not exist before the first container
 * does, so one level is created.  It stays attached after DEL: other
 * containers share it, and it is network state, not the attachment's.
 */
static int add_cgroup(struct cni_run *r, struct shunt_ctx *ctx, char *how, size_t len)
{
	const char *cg = r->conf.cgroup;
	char via[PATH_MAX];
	bool made = false;
	int err, covered;

	covered = shunt_cgroup_covered(ctx, cg, via, sizeof(via));
	if (covered) {
		snprintf(how, len, covered == 1 ? "cgroup %s attached already" : "cgroup %s covered by an attached parent",
			 cg);
		return 0;
	}
	if (!mkdir(cg, 0755)) {
		made = true;
		cni_info("%s: created cgroup %s (it did not exist)\n", r->tag, cg);
	} else if (errno != EEXIST) {
		return cni_fail(r, CNI_ERR_CGROUP, "only the last level is created; its parent must exist",
				"cgroup %s does not exist and cannot be created: %s", cg, strerror(errno));
	}
	err = shunt_attach(ctx, cg, NULL);
	if (err == -EEXIST) {
		/* attached between our look and the lock: covered all the same */
		snprintf(how, len, "cgroup %s covered by an attached parent", cg);
		return 0;
	}
	if (err) {
		cni_fail(r, CNI_ERR_CGROUP, NULL, "%s", shunt_strerror());
		if (made)
			rmdir(cg);
		return r->code;
	}
	snprintf(how, len, "attached cgroup %s", cg);
	return 0;
}

/*
 * The endpoint ADD registers for this attachment, which CHECK expects:
 * name, owner, network, netns (and its cookie) and prevResult's addresses.
 */
static int expected_ep(struct cni_run *r, struct endpoint *ep, int *dropped)
{
	int err;

	memset(ep, 0, sizeof(*ep));
	if (!r->conf.prev)
		return cni_fail(r, CNI_ERR_CONFIG, NULL,
				"shunt-cni is a chained plugin: put it after a plugin that sets up the interface (e.g. bridge)");
	err = cni_ident(&r->conf, r->id, r->ifname, ep->name, sizeof(ep->name),
			ep->owner, sizeof(ep->owner));
	if (err)
		return cni_fail(r, CNI_ERR_ENV, NULL, "%s", shunt_strerror());
	err = cni_network(&r->conf, ep->network, sizeof(ep->network));
	if (err)
		return cni_fail(r, CNI_ERR_CONFIG, NULL, "%s", shunt_strerror());
	if (strlen(r->netns) >= sizeof(ep->netns))
		return cni_fail(r, CNI_ERR_ENV, NULL, "CNI_NETNS longer than %zu characters",
				sizeof(ep->netns) - 1);
	snprintf(ep->netns, sizeof(ep->netns), "%s", r->netns);
	err = cni_prev_addrs(r->conf.prev, r->netns, r->ifname, ep->addrs, SHUNT_MAX_ADDRS,
			     &ep->naddrs, dropped);
	if (err)
		return cni_fail(r, CNI_ERR_CONFIG, NULL, "%s", shunt_strerror());
	err = shunt_netns_cookie(r->netns, &ep->netns_cookie);
	if (err)
		return cni_fail(r, err == -ENOENT ? CNI_ERR_CONTAINER : CNI_ERR_IO, NULL, "CNI_NETNS: %s",
				shunt_strerror());
	return 0;
}

static void format_addrs(const struct endpoint *ep, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	out[0] = 0;
	for (int i = 0; i < ep->naddrs; i++) {
		addr_format(&ep->addrs[i], buf, sizeof(buf));
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", buf);
	}
}

int cni_cmd_add(struct cni_run *r)
{
	char addrs[SHUNT_MAX_ADDRS * INET6_ADDRSTRLEN], how[600] = "";
	struct ep_table mine = {};
	struct shunt_ctx ctx;
	struct endpoint ep;
	int err, dropped, code;

	code = expected_ep(r, &ep, &dropped);
	if (code)
		return code;
	err = open_instance(r, &ctx, true);
	if (err == -ENOENT)
		return soft(r, CNI_ERR_NOT_LOADED, "not loaded at %s: %s", r->conf.pin_dir,
			    shunt_strerror());
	if (err == -ETIMEDOUT)
		return soft(r, CNI_ERR_AGAIN, "%s", shunt_strerror());
	if (err)
		return cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());

	if (r->conf.cgroup[0] && (code = add_cgroup(r, &ctx, how, sizeof(how))))
		goto out;
	if (!ep.naddrs) {
		code = soft(r, CNI_ERR_NO_ADDRESS, "prevResult gives interface %s in %s no address: nothing registered%s%s",
			    r->ifname, r->netns, how[0] ? "; " : "", how);
		goto out;
	}
	err = ep_table_add(&mine, &ep);
	/* true: an entry whose netns is gone (a container that died without
	 * DEL) gives way; the library logs and counts it. */
	if (!err)
		err = shunt_ep_set_owned(&ctx, ep.owner, &mine, true);
	if (err == -E2BIG || err == -ENOMEM || err == -ENOSPC) {
		code = soft(r, CNI_ERR_TABLE_FULL, "%s: nothing registered%s%s", shunt_strerror(),
			    how[0] ? "; " : "", how);
		goto out;
	}
	if (err == -EEXIST) {
		code = cni_fail(r, CNI_ERR_CONFLICT, "two containers in one shunt network need distinct addresses; set \"network\" per CNI network",
				"%s", shunt_strerror());
		goto out;
	}
	if (err) {
		code = cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
		goto out;
	}
	format_addrs(&ep, addrs, sizeof(addrs));
	cni_info("%s: endpoint %s (%s) in network %s, netns %s, owner %s%s%s\n",
		 r->tag, ep.name, addrs, ep.network, ep.netns, ep.owner, how[0] ? "; " : "", how);
	if (dropped)
		cni_warn("%s: prevResult has %d more address(es) than the %d an endpoint holds: left out\n",
			 r->tag, dropped, SHUNT_MAX_ADDRS);
out:
	ep_table_free(&mine);
	shunt_close(&ctx);
	return code;
}

int cni_cmd_del(struct cni_run *r)
{
	char name[SHUNT_NAME_MAX + 1], owner[SHUNT_OWNER_MAX];
	struct ep_table t = {}, none = {};
	struct shunt_ctx ctx;
	int err, n = 0, code = 0;

	if (cni_ident(&r->conf, r->id, r->ifname, name, sizeof(name), owner, sizeof(owner))) {
		cni_info("%s: %s: ADD registered nothing of it\n", r->tag, shunt_strerror());
		return 0;
	}
	code = open_writer(r, &ctx, "remove");
	if (code)
		return code < 0 ? 0 : code;
	err = shunt_ep_read(&ctx, &t);
	if (err) {
		code = cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
		goto out;
	}
	for (int i = 0; i < t.n; i++)
		n += ep_owned_by(&t.eps[i], owner);
	/* A repeated DEL changes nothing, not even the table's generation. */
	if (n && (err = shunt_ep_set_owned(&ctx, owner, &none, false))) {
		code = cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
		goto out;
	}
	cni_info("%s: removed %d endpoint(s) of owner %s\n", r->tag, n, owner);
out:
	ep_table_free(&t);
	shunt_close(&ctx);
	return code;
}

static bool same_addrs(const struct endpoint *a, const struct endpoint *b)
{
	if (a->naddrs != b->naddrs)
		return false;
	for (int i = 0; i < a->naddrs; i++) {
		bool found = false;

		for (int k = 0; k < b->naddrs; k++)
			found |= addr_equal(&a->addrs[i], &b->addrs[k]);
		if (!found)
			return false;
	}
	return true;
}

/*
 * CHECK compares what ADD would register from this prevResult with what
 * the table holds: one entry of the owner, same name, network, netns
 * cookie and address set; and the conf's cgroup still attached.  An
 * attachment that gets no address is fine with no entry.
 */
int cni_cmd_check(struct cni_run *r)
{
	char want[SHUNT_MAX_ADDRS * INET6_ADDRSTRLEN], have[sizeof(want)], det[1024];
	const struct endpoint *got = NULL;
	struct ep_table t = {};
	struct shunt_ctx ctx;
	struct endpoint ep;
	int err, dropped, n = 0, code;
	char via[PATH_MAX];

	code = expected_ep(r, &ep, &dropped);
	if (code)
		return code;
	err = open_instance(r, &ctx, false);
	if (err == -ENOENT)
		return cni_fail(r, CNI_ERR_NOT_LOADED, NULL, "not loaded at %s: %s", r->conf.pin_dir,
				shunt_strerror());
	if (err)
		return cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
	err = shunt_ep_read(&ctx, &t);
	if (err) {
		code = cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
		goto out;
	}
	for (int i = 0; i < t.n; i++) {
		if (ep_owned_by(&t.eps[i], ep.owner)) {
			got = &t.eps[i];
			n++;
		}
	}
	format_addrs(&ep, want, sizeof(want));
	if (!n && ep.naddrs) {
		code = cni_fail(r, CNI_ERR_NOT_REGISTERED, NULL, "not registered: no endpoint of owner %s in %s (want %s)",
				ep.owner, r->conf.pin_dir, want);
		goto out;
	}
	if (n > 1 || (n && !ep.naddrs)) {
		code = cni_fail(r, CNI_ERR_MISMATCH, NULL, "owner %s has %d endpoint(s), want %d",
				ep.owner, n, !!ep.naddrs);
		goto out;
	}
	if (n) {
		format_addrs(got, have, sizeof(have));
		snprintf(det, sizeof(det), "registered: name %s, network %s, netns %s (cookie %llu), addresses %s; prevResult gives: name %s, network %s, netns %s (cookie %llu), addresses %s",
			 got->name, got->network, got->netns, (unsigned long long)got->netns_cookie, have,
			 ep.name, ep.network, ep.netns, (unsigned long long)ep.netns_cookie, want);
		if (strcmp(got->name, ep.name) || strcmp(got->network, ep.network) ||
		    got->netns_cookie != ep.netns_cookie || !same_addrs(got, &ep)) {
			code = cni_fail(r, CNI_ERR_MISMATCH, det, "endpoint of owner %s differs from what prevResult gives",
					ep.owner);
			goto out;
		}
	}
	if (r->conf.cgroup[0] && !shunt_cgroup_covered(&ctx, r->conf.cgroup, via, sizeof(via))) {
		code = cni_fail(r, CNI_ERR_CGROUP, NULL, "cgroup %s is not attached (nor a parent of it)",
				r->conf.cgroup);
		goto out;
	}
	cni_info("%s: ok (%s)\n", r->tag, n ? want : "no address, nothing registered");
out:
	ep_table_free(&t);
	shunt_close(&ctx);
	return code;
}

/*
 * GC keeps the attachments the runtime lists and drops every other
 * "cni:<conf name>/..." owner, one owner at a time (shunt_ep_set_owned
 * replaces one owner's entries).  Other owners, including other CNI
 * networks', are not ours to judge.  It goes on past a failure and
 * reports the first.
 */
int cni_cmd_gc(struct cni_run *r)
{
	char id[SHUNT_OWNER_MAX], ifname[SHUNT_OWNER_MAX];
	char (*drop)[SHUNT_OWNER_MAX] = NULL;
	struct ep_table t = {}, none = {};
	int err, ndrop = 0, removed = 0, kept = 0, code = 0;
	struct shunt_ctx ctx;
	json_object *valid;

	if (cni_valid_attachments(&r->conf, &valid))
		return cni_fail(r, CNI_ERR_CONFIG, NULL, "%s", shunt_strerror());
	code = open_writer(r, &ctx, "collect");
	if (code)
		return code < 0 ? 0 : code;
	err = shunt_ep_read(&ctx, &t);
	if (!err && t.n && !(drop = calloc(t.n, sizeof(*drop))))
		err = shunt_set_error(ENOMEM, "out of memory");
	if (err) {
		code = cni_fail(r, CNI_ERR_IO, NULL, "%s", shunt_strerror());
		goto out;
	}
	for (int i = 0; i < t.n; i++) {
		const char *owner = ep_owner(&t.eps[i]);
		bool listed = false;

		if (!cni_owner_split(&r->conf, owner, id, sizeof(id), ifname, sizeof(ifname)))
			continue;
		if (cni_attachment_listed(valid, id, ifname)) {
			kept++;
			continue;
		}
		for (int k = 0; k < ndrop; k++)
			listed |= !strcmp(drop[k], owner);
		if (!listed)
			snprintf(drop[ndrop++], sizeof(drop[0]), "%s", owner);
	}
	for (int k = 0; k < ndrop; k++) {
		int n = 0;

		for (int i = 0; i < t.n; i++)
			n += ep_owned_by(&t.eps[i], drop[k]);
		err = shunt_ep_set_owned(&ctx, drop[k], &none, false);
		if (err) {
			cni_warn("%s: %s: %s\n", r->tag, drop[k], shunt_strerror());
			if (!code)
				code = cni_fail(r, CNI_ERR_IO, NULL, "GC of %s: %s", drop[k], shunt_strerror());
			continue;
		}
		removed += n;
		cni_info("%s: removed stale attachment %s (%d endpoint(s))\n", r->tag, drop[k], n);
	}
	cni_info("%s: %d endpoint(s) of %d stale attachment(s) removed, %d kept\n",
		 r->tag, removed, ndrop, kept);
out:
	free(drop);
	ep_table_free(&t);
	shunt_close(&ctx);
	return code;
}

int cni_cmd_status(struct cni_run *r)
{
	struct shunt_ctx ctx;
	int err;

	err = open_instance(r, &ctx, false);
	if (err)
		return cni_fail(r, CNI_ERR_UNAVAILABLE, shunt_strerror(), "shunt is not loaded at %s",
				r->conf.pin_dir);
	shunt_close(&ctx);
	return 0;
}

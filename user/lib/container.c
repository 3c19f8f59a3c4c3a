// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Containers followed through their runtime's OCI hooks (see container.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "container.h"
#include "internal.h"

bool shunt_table_has_cni(const struct ep_table *t, const char *id)
{
	size_t n = strlen(id);

	for (int i = 0; i < t->n; i++) {
		const char *o = t->eps[i].owner, *slash;

		if (strncmp(o, "cni:", 4) || !(slash = strchr(o + 4, '/')))
			continue;
		if (!strncmp(slash + 1, id, n) && slash[1 + n] == '/')
			return true;
	}
	return false;
}

static void owner_of(const char *id, char *owner, size_t len)
{
	snprintf(owner, len, "oci:%s", id);
}

/*
 * createRuntime and poststart both land here; the second run adds what the
 * first could not (an address configured in between) and changes nothing
 * else, so running it twice, or once, is the same.
 */
int shunt_container_up(struct shunt_ctx *c, const struct oci_state *st,
		       struct shunt_container_report *r)
{
	struct ep_table t = {}, mine = {};
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	char owner[SHUNT_OWNER_MAX];
	struct endpoint ep = {};
	__u64 cgid = 0;
	int err, n = 0;

	memset(r, 0, sizeof(*r));
	if (!st->pid)
		return shunt_set_error(EINVAL, "container %s: the state has no pid (stage %s?)",
				       st->id, st->status);
	owner_of(st->id, owner, sizeof(owner));
	err = shunt_cgroup_of_pid(st->pid, r->cgroup, sizeof(r->cgroup));
	if (!err)
		err = shunt_netns_of_pid(st->pid, ep.netns, sizeof(ep.netns), &ep.netns_cookie);
	if (err)
		return shunt_set_error(err, "container %s: %s", st->id, shunt_strerror());
	snprintf(r->netns, sizeof(r->netns), "%s", ep.netns);

	err = shunt_attach(c, r->cgroup, &cgid);
	if (err == -EEXIST) {
		r->covered = true;	/* a parent (e.g. CNI's "cgroup") has it */
		cgid = 0;
	} else if (err) {
		return shunt_set_error(err, "container %s: %s", st->id, shunt_strerror());
	}

	err = shunt_ep_read(c, &t);
	if (err)
		return err;
	if (shunt_table_has_cni(&t, st->id)) {
		r->by_cni = true;
		goto out;
	}
	snprintf(ep.name, sizeof(ep.name), "%s", st->name[0] ? st->name : st->id);
	snprintf(ep.network, sizeof(ep.network), "%s",
		 st->network[0] ? st->network : SHUNT_DEFAULT_NETWORK);
	snprintf(r->name, sizeof(r->name), "%s", ep.name);
	snprintf(r->network, sizeof(r->network), "%s", ep.network);
	ep.cgroup_id = cgid;
	/* What an earlier stage registered stays (union with what is there now). */
	for (int i = 0; i < t.n; i++) {
		const struct endpoint *o = &t.eps[i];

		if (!ep_owned_by(o, owner) || o->netns_cookie != ep.netns_cookie)
			continue;
		for (int a = 0; a < o->naddrs && ep.naddrs < SHUNT_MAX_ADDRS; a++)
			ep.addrs[ep.naddrs++] = o->addrs[a];
		if (!ep.cgroup_id)
			ep.cgroup_id = o->cgroup_id;
	}
	err = shunt_netns_addrs(ep.netns, addrs, SHUNT_MAX_ADDRS, &n);
	if (err)
		goto out;
	for (int i = 0; i < n && ep.naddrs < SHUNT_MAX_ADDRS; i++) {
		bool have = false;

		for (int a = 0; a < ep.naddrs; a++)
			have |= addr_equal(&ep.addrs[a], &addrs[i]);
		if (!have)
			ep.addrs[ep.naddrs++] = addrs[i];
	}
	if (!ep.naddrs) {
		err = shunt_set_error(EADDRNOTAVAIL, "container %s: netns %s has no address yet (attached; a later stage registers it)",
				      st->id, ep.netns);
		goto out;
	}
	err = ep_table_add(&mine, &ep);
	if (!err)
		err = shunt_ep_set_owned(c, owner, &mine, true);
	if (err) {
		err = shunt_set_error(err, "container %s: %s", st->id, shunt_strerror());
		goto out;
	}
	r->naddrs = ep.naddrs;
	memcpy(r->addrs, ep.addrs, sizeof(r->addrs));
out:
	ep_table_free(&mine);
	ep_table_free(&t);
	return err;
}

/*
 * poststop: the state has no pid, and the cgroup and netns may be gone.
 * What the hook registered says which cgroup it attached (cgroup_id).
 */
int shunt_container_down(struct shunt_ctx *c, const char *id,
			 struct shunt_container_report *r)
{
	struct ep_table t = {}, none = {};
	char owner[SHUNT_OWNER_MAX];
	__u64 cgids[8];
	int err, ncg = 0;

	memset(r, 0, sizeof(*r));
	owner_of(id, owner, sizeof(owner));
	err = shunt_ep_read(c, &t);
	if (err)
		return err;
	for (int i = 0; i < t.n; i++) {
		if (!ep_owned_by(&t.eps[i], owner))
			continue;
		r->removed++;
		if (t.eps[i].cgroup_id && ncg < 8)
			cgids[ncg++] = t.eps[i].cgroup_id;
	}
	/* A cgroup another entry still names (one pod, several containers)
	 * stays attached. */
	for (int i = 0; i < t.n; i++)
		for (int k = 0; k < ncg; k++)
			if (!ep_owned_by(&t.eps[i], owner) && t.eps[i].cgroup_id == cgids[k])
				cgids[k] = 0;
	ep_table_free(&t);
	if (r->removed && (err = shunt_ep_set_owned(c, owner, &none, false)))
		return err;
	for (int i = 0; i < ncg; i++)
		if (cgids[i] && (err = shunt_detach_id(c, cgids[i])))
			return err;
	err = shunt_links_gc(c);
	if (err < 0)
		return err;
	r->links_collected = err;
	return 0;
}

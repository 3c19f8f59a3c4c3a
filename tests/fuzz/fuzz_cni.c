// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the network configuration a runtime writes on
 * shunt-cni's stdin.  Any input parses or fails with one line and a CNI
 * code, never crashes; what parses yields valid names and owners, at most
 * SHUNT_MAX_ADDRS distinct addresses from prevResult, and GC owners that
 * split back into what made them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "endpoint.h"

static void one_line_or_abort(void)
{
	if (strchr(shunt_strerror(), '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[SHUNT_NAME_MAX + 1], owner[SHUNT_OWNER_MAX], net[SHUNT_NET_MAX];
	char id[SHUNT_OWNER_MAX], ifname[SHUNT_OWNER_MAX];
	struct shunt_addr addrs[SHUNT_MAX_ADDRS];
	struct cni_conf c;
	json_object *valid;
	int err, n, dropped, code;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	err = cni_conf_parse(text, &c);
	if (err) {
		one_line_or_abort();
		code = cni_conf_code(err);
		if (code != CNI_ERR_DECODE && code != CNI_ERR_VERSION && code != CNI_ERR_CONFIG)
			abort();
		goto out;
	}
	if (strcmp(c.version, "1.0.0") && strcmp(c.version, "1.1.0"))
		abort();
	if (!c.name[0] || !c.pin_dir[0] || c.lock_ms < 0 || c.lock_ms > CNI_LOCK_MS_MAX ||
	    (c.cgroup[0] && c.cgroup[0] != '/'))
		abort();
	if (!cni_ident(&c, "0123abcd", "eth0", name, sizeof(name), owner, sizeof(owner))) {
		if (name_check(name) || owner_check(owner))
			abort();
		if (!cni_owner_split(&c, owner, id, sizeof(id), ifname, sizeof(ifname)) ||
		    strcmp(id, "0123abcd") || strcmp(ifname, "eth0"))
			abort();
	}
	if (!cni_network(&c, net, sizeof(net)) && network_check(net))
		abort();
	if (c.prev) {
		if (cni_prev_addrs(c.prev, "/var/run/netns/x", "eth0", addrs, SHUNT_MAX_ADDRS,
				   &n, &dropped)) {
			one_line_or_abort();
		} else {
			if (n < 0 || n > SHUNT_MAX_ADDRS || dropped < 0 || (dropped && n != SHUNT_MAX_ADDRS))
				abort();
			for (int i = 0; i < n; i++)
				for (int k = 0; k < i; k++)
					if (addr_equal(&addrs[i], &addrs[k]))
						abort();
		}
	}
	if (!cni_valid_attachments(&c, &valid))
		cni_attachment_listed(valid, "0123abcd", "eth0");
	else
		one_line_or_abort();
out:
	cni_conf_free(&c);
	free(text);
	return 0;
}

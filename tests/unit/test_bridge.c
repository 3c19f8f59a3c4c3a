// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bridge's pure parts (user/lib/bridge_proto.c): the wire header and
 * reply, frames, transport names (vsock included: what needs no peer),
 * the relay's VM list, and how connect errors and statuses map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "bridge.h"

static void open_hdr(struct shunt_br_hdr *h)
{
	struct shunt_addr a;

	assert_int_equal(addr_parse("10.2.0.2", &a), 0);
	shunt_br_hdr_open(h, "vmb", "n1", &a, 6379);
}

static void test_hdr_roundtrip(void **state)
{
	struct shunt_br_hdr h;
	struct shunt_addr a, b;
	char buf[64];

	(void)state;
	open_hdr(&h);
	assert_int_equal(ntohl(h.magic), SHUNT_BR_MAGIC);
	assert_int_equal(ntohs(h.port), 6379);
	assert_int_equal(shunt_br_hdr_check(&h, false), 0);
	/* from an agent: no source; the relay must have stamped one */
	assert_int_equal(shunt_br_hdr_check(&h, true), -EPROTO);
	strcpy(h.src_vm, "vma");
	assert_int_equal(shunt_br_hdr_check(&h, true), 0);
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	assert_non_null(strstr(shunt_strerror(), "source VM set by a guest"));
	shunt_br_hdr_addr(&h, &a);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.2.0.2");
	assert_int_equal(addr_parse("fd02::2", &b), 0);
	shunt_br_hdr_open(&h, "vmb", "n1", &b, 1);
	assert_int_equal(shunt_br_hdr_check(&h, false), 0);
	shunt_br_hdr_addr(&h, &a);
	assert_true(addr_equal(&a, &b));
	shunt_br_hdr_list(&h, SHUNT_BR_T_LIST);
	assert_int_equal(shunt_br_hdr_check(&h, false), 0);
	shunt_br_hdr_list(&h, SHUNT_BR_T_WATCH);
	assert_int_equal(shunt_br_hdr_check(&h, false), 0);
}

static void test_hdr_rejects(void **state)
{
	struct shunt_br_hdr h;

	(void)state;
	open_hdr(&h);
	h.magic = 0;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.version = 2;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	assert_non_null(strstr(shunt_strerror(), "version 2"));
	open_hdr(&h);
	h.type = 9;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.family = 5;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.addr[7] = 1;		/* IPv4 with trailing bytes */
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.port = 0;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	memset(h.dst_vm, 'x', sizeof(h.dst_vm));	/* not NUL-terminated */
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	strcpy(h.network, "a b");
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.network[0] = 0;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	open_hdr(&h);
	h.pad2[0] = 1;
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	shunt_br_hdr_list(&h, SHUNT_BR_T_LIST);
	h.port = htons(1);	/* LIST takes no arguments */
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	shunt_br_hdr_list(&h, SHUNT_BR_T_WATCH);
	strcpy(h.network, "n1");	/* nor does WATCH */
	assert_int_equal(shunt_br_hdr_check(&h, false), -EPROTO);
	assert_non_null(strstr(shunt_strerror(), "WATCH"));
}

static void test_reply(void **state)
{
	struct shunt_br_reply r;

	(void)state;
	shunt_br_reply_fill(&r, SHUNT_BR_S_OK, 10, "vma");
	assert_int_equal(shunt_br_reply_check(&r), 0);
	assert_string_equal(r.vm, "vma");
	r.status = SHUNT_BR_S_MAX;
	assert_int_equal(shunt_br_reply_check(&r), -EPROTO);
	shunt_br_reply_fill(&r, SHUNT_BR_S_OK, SHUNT_BR_LIST_MAX + 1, NULL);
	assert_int_equal(shunt_br_reply_check(&r), -EPROTO);
	for (int s = 0; s < SHUNT_BR_S_MAX; s++)
		assert_string_not_equal(shunt_br_status_str(s), "unknown status");
	assert_string_equal(shunt_br_status_str(99), "unknown status");
}

static void test_frames(void **state)
{
	(void)state;
	assert_int_equal(ntohl(shunt_br_frame(SHUNT_BR_F_DATA, 65536)), (1u << 24) | 65536);
	assert_int_equal(ntohl(shunt_br_frame(SHUNT_BR_F_FIN, 0)), 2u << 24);
	assert_true(SHUNT_BR_FRAME_MAX < (1u << 24));
}

static void test_xport(void **state)
{
	struct shunt_xport x;
	char buf[160];

	(void)state;
	assert_int_equal(shunt_xport_parse("vsock", false, &x), 0);
	assert_int_equal(x.kind, SHUNT_XP_VSOCK);
	assert_int_equal(x.cid, SHUNT_BR_HOST_CID);
	assert_int_equal(shunt_xport_parse("vsock", true, &x), -EINVAL);	/* the relay names a CID */
	assert_int_equal(shunt_xport_parse("vsock:1", false, &x), 0);	/* vsock_loopback, tests */
	assert_int_equal(x.cid, 1);
	assert_int_equal(shunt_xport_parse("vsock:3", false, &x), -EINVAL);	/* not a host */
	assert_int_equal(shunt_xport_parse("vsock:3", true, &x), 0);
	assert_int_equal(x.cid, 3);
	shunt_xport_format(&x, buf, sizeof(buf));
	assert_string_equal(buf, "vsock:3");
	/* 0 hypervisor, 2 host, -1U any: not a guest */
	assert_int_equal(shunt_xport_parse("vsock:2", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("vsock:1", true, &x), 0);	/* vsock_loopback, tests */
	assert_int_equal(shunt_xport_parse("vsock:0", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("vsock:4294967295", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("vsock:-3", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("vsock:3x", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("vsock:", true, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("hybrid:/run/fc/a.vsock", true, &x), 0);
	assert_int_equal(x.kind, SHUNT_XP_HYBRID);
	assert_string_equal(x.path, "/run/fc/a.vsock");
	assert_int_equal(shunt_xport_parse("hybrid:/run/fc/a.vsock", false, &x), -EINVAL);
	assert_int_equal(shunt_xport_parse("unix:relative", true, &x), -EINVAL);
	assert_non_null(strstr(shunt_strerror(), "absolute"));
	memset(buf, 'a', 120);
	buf[0] = '/';
	buf[120] = 0;
	{
		char s[200];

		snprintf(s, sizeof(s), "unix:%s", buf);
		assert_int_equal(shunt_xport_parse(s, false, &x), -ENAMETOOLONG);
	}
	assert_int_equal(shunt_xport_parse("tcp:1.2.3.4", true, &x), -EINVAL);
	assert_non_null(strstr(shunt_strerror(), "expected vsock:CID, hybrid:PATH or unix:PATH"));
}

static void test_vms(void **state)
{
	struct shunt_br_vms v = {};

	(void)state;
	assert_int_equal(shunt_br_vms_parse(&v, "# the VMs\nweb vsock:3\n\ndb hybrid:/run/fc/db.vsock # fc\n",
					    "vms"), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.v[1].name, "db");
	assert_int_equal(v.v[1].x.kind, SHUNT_XP_HYBRID);
	assert_int_equal(shunt_br_vm_add(&v, "web=vsock:4"), -EEXIST);
	assert_int_equal(shunt_br_vm_add(&v, "web2=vsock:3"), -EEXIST);	/* same CID */
	assert_non_null(strstr(shunt_strerror(), "same transport"));
	assert_int_equal(shunt_br_vm_add(&v, "cache=unix:/run/c"), 0);
	assert_int_equal(shunt_br_vm_add(&v, "=unix:/run/c"), -EINVAL);
	assert_int_equal(shunt_br_vm_add(&v, "novalue"), -EINVAL);
	assert_int_equal(shunt_br_vm_add(&v, "a b=vsock:9"), -EINVAL);
	shunt_br_vms_free(&v);
	assert_int_equal(shunt_br_vms_parse(&v, "web vsock:3 extra\n", "vms"), -EINVAL);
	assert_non_null(strstr(shunt_strerror(), "vms:1:"));
	shunt_br_vms_free(&v);
	assert_int_equal(shunt_br_vms_parse(&v, "web\n", "vms"), -EINVAL);
	shunt_br_vms_free(&v);
}

static void test_status_map(void **state)
{
	(void)state;
	assert_int_equal(shunt_br_connect_status(0), SHUNT_BR_S_OK);
	assert_int_equal(shunt_br_connect_status(-ECONNREFUSED), SHUNT_BR_S_REFUSED);
	assert_int_equal(shunt_br_connect_status(-ETIMEDOUT), SHUNT_BR_S_UNREACHABLE);
	assert_int_equal(shunt_br_connect_status(-ENETUNREACH), SHUNT_BR_S_UNREACHABLE);
	assert_int_equal(shunt_br_connect_status(-ENODEV), SHUNT_BR_S_UNREACHABLE);	/* vsock: no transport */
	assert_int_equal(shunt_br_status_stat(SHUNT_BR_S_REFUSED), SHUNT_BR_REFUSED);
	assert_int_equal(shunt_br_status_stat(SHUNT_BR_S_NOT_EP), SHUNT_BR_REJ_NOT_EP);
	assert_int_equal(shunt_br_status_stat(SHUNT_BR_S_NETWORK), SHUNT_BR_REJ_NETWORK);
	assert_int_equal(shunt_br_status_stat(SHUNT_BR_S_UNKNOWN_VM), SHUNT_BR_REJ_UNKNOWN_VM);
	assert_int_equal(shunt_br_status_stat(SHUNT_BR_S_DST_DOWN), SHUNT_BR_DST_DOWN);
	for (int i = 0; i < SHUNT_BR_MAX; i++)
		assert_non_null(shunt_br_stat_names[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_rejects),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_xport),
		cmocka_unit_test(test_vms),
		cmocka_unit_test(test_status_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

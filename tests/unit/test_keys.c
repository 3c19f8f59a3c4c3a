// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Key building: the same connection must hash the same from both ends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/types.h>

#include "shunt/shunt.h"

static struct shunt_addr parse(int af, const char *s)
{
	struct shunt_addr a;
	__u32 raw[4] = {};

	assert_int_equal(inet_pton(af, s, raw), 1);
	shunt_addr_set(&a, af == AF_INET6, raw);
	return a;
}

static struct shunt_addr v4(const char *s)
{
	return parse(AF_INET, s);
}

static struct shunt_addr v6(const char *s)
{
	return parse(AF_INET6, s);
}

static void test_v4_mapped_is_v4(void **state)
{
	struct shunt_addr a = v4("10.0.0.2"), b = v6("::ffff:10.0.0.2");

	(void)state;
	assert_int_equal(b.family, SHUNT_AF_INET);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_v6_kept(void **state)
{
	struct shunt_addr a = v6("fd00::2");

	(void)state;
	assert_int_equal(a.family, SHUNT_AF_INET6);
	assert_int_equal(a.a[0], htonl(0xfd000000));
	assert_int_equal(a.a[3], htonl(2));
}

/* Client's view of its peer == server's view of itself. */
static void test_peer_key_matches_self_key(void **state)
{
	struct shunt_addr c = v4("10.10.0.1"), s = v4("10.10.0.2");
	struct shunt_sock_key client, server, peer_of_client, peer_of_server;

	(void)state;
	shunt_sock_key_build(&client, 111, 7, &c, 41001, &s, 7100);
	shunt_sock_key_build(&server, 222, 7, &s, 7100, &c, 41001);
	shunt_sock_key_peer(&peer_of_client, &client, 222);
	shunt_sock_key_peer(&peer_of_server, &server, 111);
	assert_memory_equal(&peer_of_client, &server, sizeof(server));
	assert_memory_equal(&peer_of_server, &client, sizeof(client));
}

/* Same addresses and ports in two partitions: keys differ. */
static void test_overlapping_partitions_differ(void **state)
{
	struct shunt_addr c = v4("10.10.0.1"), s = v4("10.10.0.2");
	struct shunt_sock_key k1, k2, k3;

	(void)state;
	shunt_sock_key_build(&k1, 111, 1, &c, 41001, &s, 7100);
	shunt_sock_key_build(&k2, 333, 1, &c, 41001, &s, 7100);
	shunt_sock_key_build(&k3, 111, 2, &c, 41001, &s, 7100);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_memory_not_equal(&k1, &k3, sizeof(k1));
}

/* Builders zero the whole key: garbage in the input struct never leaks. */
static void test_keys_fully_initialised(void **state)
{
	struct shunt_addr c = v4("10.0.0.1"), s = v4("10.0.0.2");
	struct shunt_sock_key a, b;
	struct shunt_ep_local_key la, lb;
	struct shunt_ep_peer_key pa, pb;

	(void)state;
	memset(&a, 0xaa, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	shunt_sock_key_build(&a, 1, 2, &c, 3, &s, 4);
	shunt_sock_key_build(&b, 1, 2, &c, 3, &s, 4);
	assert_memory_equal(&a, &b, sizeof(a));
	memset(&la, 0xaa, sizeof(la));
	memset(&lb, 0x55, sizeof(lb));
	shunt_ep_local_key_build(&la, 9, 1, &c);
	shunt_ep_local_key_build(&lb, 9, 1, &c);
	assert_memory_equal(&la, &lb, sizeof(la));
	memset(&pa, 0xaa, sizeof(pa));
	memset(&pb, 0x55, sizeof(pb));
	shunt_ep_peer_key_build(&pa, 9, 1, &c);
	shunt_ep_peer_key_build(&pb, 9, 1, &c);
	assert_memory_equal(&pa, &pb, sizeof(pa));
}

/* Layout is ABI for bpftool users (README documents the bytes). */
static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct shunt_addr), 20);
	assert_int_equal(sizeof(struct shunt_ep_local_key), 32);
	assert_int_equal(sizeof(struct shunt_ep_peer_key), 28);
	assert_int_equal(sizeof(struct shunt_sock_key), 56);
	assert_int_equal(offsetof(struct shunt_sock_key, laddr), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_mapped_is_v4),
		cmocka_unit_test(test_v6_kept),
		cmocka_unit_test(test_peer_key_matches_self_key),
		cmocka_unit_test(test_overlapping_partitions_differ),
		cmocka_unit_test(test_keys_fully_initialised),
		cmocka_unit_test(test_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Endpoint parsing and validation, endpoint files, CLI argument parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "args.h"
#include "endpoint.h"
#include "oci.h"

static void test_addr_parse(void **state)
{
	struct shunt_addr a;
	char buf[64];

	(void)state;
	assert_int_equal(addr_parse("10.0.0.2", &a), 0);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2");
	assert_int_equal(addr_parse("fd00::2", &a), 0);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::2");
	assert_int_equal(addr_parse("::ffff:10.0.0.9", &a), 0);
	assert_int_equal(a.family, SHUNT_AF_INET);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.9");
	assert_int_not_equal(addr_parse("10.0.0.300", &a), 0);
	assert_string_equal(shunt_strerror(), "bad IPv4 address \"10.0.0.300\"");
	assert_int_not_equal(addr_parse("fd00::zz", &a), 0);
	assert_int_not_equal(addr_parse("", &a), 0);
	assert_int_not_equal(addr_parse("0.0.0.0", &a), 0);
	assert_int_not_equal(addr_parse("::", &a), 0);
	assert_int_not_equal(addr_parse("10.0.0.1/24", &a), 0);
}

static void test_mac_and_names(void **state)
{
	__u8 mac[6];
	char name[120];

	(void)state;
	assert_int_equal(mac_parse("02:00:00:00:00:0a", mac), 0);
	assert_int_equal(mac[5], 0x0a);
	assert_int_not_equal(mac_parse("02:00:00:00:00", mac), 0);
	assert_int_not_equal(mac_parse("02:00:00:00:00:0g", mac), 0);
	assert_int_not_equal(mac_parse("02:00:00:00:00:0a:", mac), 0);
	memset(name, 'a', 96);
	name[96] = 0;
	assert_int_equal(name_check(name), 0);	/* 64-hex container id, '-', ifname */
	name[96] = 'a';
	name[97] = 0;
	assert_int_not_equal(name_check(name), 0);
	assert_int_not_equal(name_check(""), 0);
	assert_int_not_equal(name_check("a b"), 0);
	assert_int_not_equal(name_check("a\"b"), 0);
}

static struct endpoint mk(const char *name, const char *net, const char *addr)
{
	struct endpoint ep = {};

	strcpy(ep.name, name);
	strcpy(ep.network, net);
	assert_int_equal(addr_parse(addr, &ep.addrs[0]), 0);
	ep.naddrs = 1;
	return ep;
}

static void test_table_rules(void **state)
{
	struct ep_table t = {};
	struct endpoint e;

	(void)state;
	e = mk("a", "n1", "10.0.0.1");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("a", "n1", "10.0.0.2");
	assert_int_not_equal(ep_table_add(&t, &e), 0);	/* duplicate name */
	assert_non_null(strstr(shunt_strerror(), "already exists"));
	e = mk("b", "n1", "10.0.0.1");
	assert_int_not_equal(ep_table_add(&t, &e), 0);	/* address taken */
	assert_non_null(strstr(shunt_strerror(), "already belongs to endpoint \"a\""));
	e = mk("b", "n2", "10.0.0.1");
	assert_int_equal(ep_table_add(&t, &e), 0);	/* other network: fine */
	e = mk("c", "n1", "::ffff:10.0.0.1");		/* mapped == IPv4 */
	assert_int_not_equal(ep_table_add(&t, &e), 0);
	e = mk("c", "n1", "10.0.0.3");
	assert_int_equal(ep_table_add(&t, &e), 0);

	__u32 ep_hw = 0, net_hw = 0;

	ep_table_assign_ids(&t, &ep_hw, &net_hw);
	assert_int_equal(t.eps[0].net_id, t.eps[2].net_id);
	assert_int_not_equal(t.eps[0].net_id, t.eps[1].net_id);
	assert_int_not_equal(t.eps[0].ep_id, t.eps[2].ep_id);

	assert_int_equal(ep_table_del(&t, "b"), 0);
	assert_int_not_equal(ep_table_del(&t, "b"), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(ep_table_validate(&t), 0);
	ep_table_free(&t);
}

/* Ids are never reused, and survive a replacement by name. */
static void test_ids_stable(void **state)
{
	struct ep_table t = {}, old = {};
	__u32 ep_hw = 0, net_hw = 0, id_b, id_c;
	struct endpoint e;

	(void)state;
	e = mk("a", "n1", "10.0.0.1");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("b", "n1", "10.0.0.2");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("c", "n2", "10.0.0.3");
	assert_int_equal(ep_table_add(&t, &e), 0);
	ep_table_assign_ids(&t, &ep_hw, &net_hw);
	id_b = t.eps[1].ep_id;
	id_c = t.eps[2].ep_id;
	assert_int_equal(ep_hw, 3);
	assert_int_equal(net_hw, 2);

	/* Deleting the highest id does not hand it out again. */
	assert_int_equal(ep_table_del(&t, "c"), 0);
	e = mk("d", "n2", "10.0.0.4");
	assert_int_equal(ep_table_add(&t, &e), 0);
	ep_table_assign_ids(&t, &ep_hw, &net_hw);
	assert_int_not_equal(t.eps[2].ep_id, id_c);
	assert_int_equal(t.eps[2].ep_id, 4);
	assert_int_equal(t.eps[2].net_id, 3);	/* n2 had no entry left: new id */

	/* A reloaded table keeps ids by name (and network ids by network). */
	old = t;
	t = (struct ep_table){};
	e = mk("b", "n1", "10.0.0.9");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("e", "n1", "10.0.0.5");
	assert_int_equal(ep_table_add(&t, &e), 0);
	ep_table_keep_ids(&t, &old);
	ep_table_assign_ids(&t, &ep_hw, &net_hw);
	assert_int_equal(t.eps[0].ep_id, id_b);
	assert_int_equal(t.eps[1].ep_id, 5);
	assert_int_equal(t.eps[0].net_id, old.eps[0].net_id);
	assert_int_equal(t.eps[1].net_id, old.eps[0].net_id);
	ep_table_free(&t);
	ep_table_free(&old);
}

static void test_owners(void **state)
{
	struct ep_table t = {};
	struct endpoint e;

	(void)state;
	e = mk("a", "n1", "10.0.0.1");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("b", "n1", "10.0.0.2");
	strcpy(e.owner, "oci:1234");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("c", "n1", "10.0.0.3");
	strcpy(e.owner, "cni:net/1234/eth0");
	assert_int_equal(ep_table_add(&t, &e), 0);
	e = mk("d", "n1", "10.0.0.4");
	strcpy(e.owner, "docker:x");
	assert_int_not_equal(ep_table_add(&t, &e), 0);
	assert_non_null(strstr(shunt_strerror(), "owner \"docker:x\""));
	strcpy(e.owner, "discover");
	assert_int_equal(owner_check(e.owner), 0);
	strcpy(e.owner, "oci:a b");
	assert_int_not_equal(ep_table_add(&t, &e), 0);

	assert_string_equal(ep_owner(&t.eps[0]), "static");
	assert_true(ep_owned_by(&t.eps[0], SHUNT_OWNER_STATIC));
	e = mk("x", "n1", "10.0.0.2");
	assert_int_equal(ep_table_conflict(&t, &e), 1);	/* b's address */
	e = mk("x", "n2", "10.0.0.2");
	assert_int_equal(ep_table_conflict(&t, &e), -1);	/* other network */
	e.netns_cookie = 7;
	t.eps[1].netns_cookie = 7;
	assert_int_equal(ep_table_conflict(&t, &e), 1);	/* same netns */
	e = mk("c", "n9", "10.9.9.9");
	assert_int_equal(ep_table_conflict(&t, &e), 2);	/* name */

	assert_int_equal(ep_table_drop_owner(&t, "oci:1234"), 1);
	assert_int_equal(ep_table_drop_owner(&t, "static"), 1);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.eps[0].name, "c");
	ep_table_free(&t);
}

static void test_oci_state(void **state)
{
	struct oci_state st;

	(void)state;
	assert_int_equal(oci_state_parse("{\"ociVersion\":\"1.0.2-dev\",\"id\":\"c1\",\"status\":\"creating\","
		"\"pid\":42,\"bundle\":\"/b\",\"annotations\":{\"io.shunt.name\":\"web\",\"io.shunt.network\":\"n1\"}}",
		&st), 0);
	assert_string_equal(st.id, "c1");
	assert_int_equal(st.pid, 42);
	assert_true(st.enable);
	assert_string_equal(st.name, "web");
	assert_string_equal(st.network, "n1");
	/* poststop: no pid, no annotations */
	assert_int_equal(oci_state_parse("{\"id\":\"c1\",\"status\":\"stopped\"}", &st), 0);
	assert_int_equal(st.pid, 0);
	assert_int_equal(oci_state_parse("{\"id\":\"c1\",\"status\":\"created\",\"pid\":1,"
		"\"annotations\":{\"io.shunt.enable\":\"false\"}}", &st), 0);
	assert_false(st.enable);

	assert_int_not_equal(oci_state_parse("{\"id\":\"c1\"", &st), 0);
	assert_non_null(strstr(shunt_strerror(), "not JSON"));
	assert_int_not_equal(oci_state_parse("{\"status\":\"creating\"}", &st), 0);
	assert_non_null(strstr(shunt_strerror(), "missing \"id\""));
	assert_int_not_equal(oci_state_parse("{\"id\":\"../x\",\"status\":\"creating\"}", &st), 0);
	assert_int_not_equal(oci_state_parse("{\"id\":\"c\",\"status\":\"creating\",\"pid\":\"7\"}", &st), 0);
	assert_int_not_equal(oci_state_parse("{\"id\":\"c\",\"status\":\"creating\",\"pid\":-1}", &st), 0);
	assert_int_not_equal(oci_state_parse("{\"id\":\"c\",\"status\":\"creating\",\"annotations\":"
		"{\"io.shunt.enable\":\"no\"}}", &st), 0);
	assert_non_null(strstr(shunt_strerror(), "io.shunt.enable"));
	assert_int_not_equal(oci_state_parse("[]", &st), 0);
}

static const char *good =
	"{\"endpoints\": [\n"
	"  {\"name\": \"web\", \"network\": \"default\", \"netns\": \"web\",\n"
	"   \"addresses\": [\"10.0.0.2\", \"fd00::2\"], \"mac\": \"02:00:00:00:00:02\"},\n"
	"  {\"name\": \"db\", \"addresses\": [\"10.0.0.3\"]}\n"
	"]}\n";

static void test_json_roundtrip(void **state)
{
	struct ep_table t, t2;
	char *s, *s2;

	(void)state;
	assert_int_equal(ep_table_parse_json(&t, good, "f"), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.eps[0].netns, "web");
	assert_true(t.eps[0].has_mac);
	assert_string_equal(t.eps[1].network, "default");
	s = ep_table_to_json(&t);
	assert_int_equal(ep_table_parse_json(&t2, s, "again"), 0);
	s2 = ep_table_to_json(&t2);
	assert_string_equal(s, s2);		/* list --json loads back unchanged */
	free(s);
	free(s2);
	ep_table_free(&t);
	ep_table_free(&t2);

	/* What list --json shows, owner and id, loads back. */
	assert_int_equal(ep_table_parse_json(&t, "{\"endpoints\": [{\"name\": \"c1\", "
		"\"addresses\": [\"10.1.0.2\"], \"owner\": \"oci:c1\", \"id\": 7}]}", "f"), 0);
	assert_string_equal(t.eps[0].owner, "oci:c1");
	ep_table_free(&t);
	/* A VM's endpoint: "vm", never with a netns. */
	assert_int_equal(ep_table_parse_json(&t, "{\"endpoints\": [{\"name\": \"v\", "
		"\"addresses\": [\"10.2.0.2\"], \"vm\": \"vm1\"}]}", "f"), 0);
	assert_string_equal(t.eps[0].vm, "vm1");
	s = ep_table_to_json(&t);
	assert_non_null(strstr(s, "\"vm\": \"vm1\""));
	free(s);
	ep_table_free(&t);
	assert_int_not_equal(ep_table_parse_json(&t, "{\"endpoints\": [{\"name\": \"v\", "
		"\"addresses\": [\"10.2.0.2\"], \"vm\": \"vm1\", \"netns\": \"x\"}]}", "f"), 0);
	assert_non_null(strstr(shunt_strerror(), "vm or netns, not both"));
	assert_int_equal(ep_table_parse_json(&t, "{\"endpoints\": [{\"name\": \"c1\", "
		"\"addresses\": [\"10.1.0.2\"], \"owner\": \"oci:c1\", \"id\": 7}]}", "f"), 0);
	s = ep_table_to_json(&t);
	assert_non_null(strstr(s, "\"owner\": \"oci:c1\""));
	free(s);
	ep_table_free(&t);
}

static void expect_error(const char *json, const char *msg)
{
	struct ep_table t;

	assert_int_not_equal(ep_table_parse_json(&t, json, "f.json"), 0);
	if (!strstr(shunt_strerror(), msg))
		fail_msg("error \"%s\" lacks \"%s\"", shunt_strerror(), msg);
	assert_null(strchr(shunt_strerror(), '\n'));	/* one line */
}

static void test_json_errors(void **state)
{
	(void)state;
	expect_error("{\"endpoints\": [\n  {\"name\": \"a\",,}\n]}", "f.json line 2 column");
	expect_error("{\"endpoints\": [", "line 1 column 16: unexpected end of file");
	expect_error("{\"endpoints\": []} x", "unexpected data after the document");
	expect_error("[]", "expected {\"endpoints\": [...]}");
	expect_error("{\"endpoints\": [{\"addresses\": [\"10.0.0.1\"]}]}", "missing \"name\"");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.300\"]}]}",
		     "bad IPv4 address \"10.0.0.300\"");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": []}]}", "has no address");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.1\"], \"x\": 1}]}",
		     "unknown key \"x\"");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.1\"]},"
		     "{\"name\": \"a\", \"addresses\": [\"10.0.0.2\"]}]}", "already exists");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.1\"]},"
		     "{\"name\": \"b\", \"addresses\": [\"10.0.0.1\"]}]}", "already belongs");
	expect_error("{\"endpoints\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.1\"], \"mac\": \"zz\"}]}",
		     "bad MAC address");
	expect_error("{\"endpoints\": [{\"name\": 5, \"addresses\": [\"10.0.0.1\"]}]}", "not a string");
}

static void test_args_globals(void **state)
{
	char *argv[] = { "endpoint", "--pin-dir", "/sys/fs/bpf/x", "list", "--json", "-v", NULL };
	int argc = 6;
	struct global_opts g = {};

	(void)state;
	assert_int_equal(args_globals(&argc, argv, &g), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[0], "endpoint");
	assert_string_equal(argv[1], "list");
	assert_string_equal(g.pin_dir, "/sys/fs/bpf/x");
	assert_int_equal(g.json, 1);
	assert_int_equal(g.verbose, 1);

	char *bad[] = { "status", "--pin-dir", NULL };
	argc = 2;
	assert_int_not_equal(args_globals(&argc, bad, &g), 0);
	char *rel[] = { "status", "--pin-dir=relative", NULL };
	argc = 2;
	assert_int_not_equal(args_globals(&argc, rel, &g), 0);
}

static void test_args_ep_add(void **state)
{
	struct endpoint ep;
	char *ok[] = { "web", "10.0.0.2", "--netns", "web", "fd00::2", "--mac=02:00:00:00:00:02",
		       "--network", "prod" };
	char *noaddr[] = { "web", "--netns", "x" };
	char *badopt[] = { "web", "10.0.0.2", "--nets", "x" };
	char *noval[] = { "web", "10.0.0.2", "--netns" };
	char *badnet[] = { "web", "10.0.0.2", "--network", "a/b" };

	(void)state;
	assert_int_equal(args_ep_add(8, ok, &ep), 0);
	assert_string_equal(ep.name, "web");
	assert_string_equal(ep.netns, "web");
	assert_string_equal(ep.network, "prod");
	assert_int_equal(ep.naddrs, 2);
	assert_true(ep.has_mac);
	assert_int_not_equal(args_ep_add(3, noaddr, &ep), 0);
	assert_int_not_equal(args_ep_add(4, badopt, &ep), 0);
	assert_non_null(strstr(shunt_strerror(), "unknown option --nets"));
	assert_int_not_equal(args_ep_add(3, noval, &ep), 0);
	assert_non_null(strstr(shunt_strerror(), "needs a value"));
	assert_int_not_equal(args_ep_add(4, badnet, &ep), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_mac_and_names),
		cmocka_unit_test(test_table_rules),
		cmocka_unit_test(test_ids_stable),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_oci_state),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_args_globals),
		cmocka_unit_test(test_args_ep_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

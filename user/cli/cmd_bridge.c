// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt bridge: the vsock bridge's agent (in a VM) or, with --host, its
 * relay (on the host).  Both run in the foreground until SIGINT/SIGTERM,
 * as a systemd service or a test's background job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "cli.h"
#include "log.h"

static int parse_num(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || *end || !*s || *out < min || *out > max ? -1 : 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

int cmd_bridge(struct cli_env *env, int argc, char **argv)
{
	struct shunt_br_agent_opts ao = { .port = SHUNT_BR_PORT, .relay_port = SHUNT_BR_RELAY_PORT,
					  .refresh_s = 5, .max_conns = 1024 };
	struct shunt_br_relay_opts ro = { .port = SHUNT_BR_PORT, .relay_port = SHUNT_BR_RELAY_PORT,
					  .max_conns = 4096 };
	const char *transport = "vsock", *vms_file = NULL;
	bool host = false;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* a log, read while we run */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long n;

		if (!strcmp(a, "--host")) {
			host = true;
			continue;
		}
		if (strcmp(a, "--transport") && strcmp(a, "--vms") && strcmp(a, "--vm") &&
		    strcmp(a, "--port") && strcmp(a, "--relay-port") && strcmp(a, "--refresh") &&
		    strcmp(a, "--max-conns")) {
			pr_warn("bridge: unknown option %s; see 'shunt help bridge'\n", a);
			goto fail;
		}
		if (!v) {
			pr_warn("bridge: %s needs a value; see 'shunt help bridge'\n", a);
			goto fail;
		}
		i++;
		if (!strcmp(a, "--transport")) {
			transport = v;
		} else if (!strcmp(a, "--vms")) {
			vms_file = v;
		} else if (!strcmp(a, "--vm")) {
			if (shunt_br_vm_add(&ro.vms, v)) {
				pr_warn("bridge: %s\n", shunt_strerror());
				goto fail;
			}
		} else if (!strcmp(a, "--port") || !strcmp(a, "--relay-port")) {
			if (parse_num(v, 1, 65535, &n)) {
				pr_warn("bridge: %s \"%s\": a port from 1 to 65535\n", a, v);
				goto fail;
			}
			*(a[2] == 'p' ? &ao.port : &ao.relay_port) = n;
		} else if (!strcmp(a, "--refresh")) {
			if (parse_num(v, 1, 3600, &n)) {
				pr_warn("bridge: --refresh \"%s\": seconds from 1 to 3600\n", v);
				goto fail;
			}
			ao.refresh_s = n;
		} else if (!strcmp(a, "--max-conns")) {
			if (parse_num(v, 1, 100000, &n)) {
				pr_warn("bridge: --max-conns \"%s\": from 1 to 100000\n", v);
				goto fail;
			}
			ao.max_conns = ro.max_conns = n;
		}
	}
	ro.port = ao.port;
	ro.relay_port = ao.relay_port;
	if (host && !vms_file && !ro.vms.n) {
		pr_warn("bridge: the relay needs its VMs: --vms FILE or --vm NAME=TRANSPORT\n");
		goto fail;
	}
	if (host) {
		if (vms_file) {
			char *text = slurp(vms_file);

			if (!text) {
				pr_warn("bridge: %s: %s\n", vms_file, strerror(errno));
				goto fail;
			}
			err = shunt_br_vms_parse(&ro.vms, text, vms_file);
			free(text);
			if (err) {
				pr_warn("bridge: %s\n", shunt_strerror());
				goto fail;
			}
		}
		err = shunt_bridge_relay(env->pin_dir, &ro);
	} else {
		if (vms_file || ro.vms.n) {
			pr_warn("bridge: --vms and --vm are the relay's (--host)\n");
			goto fail;
		}
		if (shunt_xport_parse(transport, false, &ao.x)) {
			pr_warn("bridge: %s\n", shunt_strerror());
			goto fail;
		}
		err = shunt_bridge_agent(env->pin_dir, &ao);
	}
	shunt_br_vms_free(&ro.vms);
	return err ? cli_fail(err) : 0;
fail:
	shunt_br_vms_free(&ro.vms);
	return 2;
}

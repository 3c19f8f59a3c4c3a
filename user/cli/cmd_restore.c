// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt restore: what shunt.service runs at start and at reload.  Pins on
 * bpffs do not survive a reboot; /etc/shunt declares what should be there.
 * Load (or upgrade a running instance to this binary), attach the declared
 * cgroups, load the static endpoints.  Whatever is not there yet (a netns,
 * a cgroup) is reported and skipped, never fatal: containers and their
 * runtimes come up after shunt.  Each step says what it did, one line.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

/* A running instance on other programs than this binary's moves to them. */
static int load_or_upgrade(struct cli_env *env, const struct shunt_load_opts *lo)
{
	struct shunt_status s;
	struct shunt_ctx c;
	bool paused;
	int err;

	err = shunt_load(env->pin_dir, lo);
	if (!err) {
		pr_info("loaded %s (%s)\n", env->pin_dir, shunt_build_version());
		return 0;
	}
	if (err != -EEXIST)
		return cli_fail(err);
	err = shunt_open(&c, env->pin_dir);
	if (!err)
		err = shunt_status_read(&c, &s);
	if (!err)
		err = shunt_resume(&c, &paused);
	shunt_close(&c);
	if (err)
		return cli_fail(err);
	if (paused)
		pr_info("resumed %s: a refused unload had paused it\n", env->pin_dir);
	if (s.obj_id == shunt_object_id()) {
		pr_info("%s already runs this build's programs\n", env->pin_dir);
		return 0;
	}
	err = shunt_upgrade(env->pin_dir);
	if (err) {
		pr_warn("%s keeps running its programs (%s): %s\n", env->pin_dir,
			s.version[0] ? s.version : "unknown version", shunt_strerror());
		return 1;
	}
	pr_info("upgraded %s from %s to %s\n", env->pin_dir, s.version[0] ? s.version : "unknown",
		shunt_build_version());
	return 0;
}

/* DIR/cgroups: one cgroup per line, relative to the cgroup2 mount. */
static int attach_declared(struct cli_env *env, const char *dir)
{
	char path[PATH_MAX], mnt[PATH_MAX], line[PATH_MAX], *p;
	int rc = 0, n = 0, missing = 0, lineno = 0;
	struct shunt_ctx c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroups", dir);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			pr_info("no %s: no cgroups to attach\n", path);
			return 0;
		}
		pr_warn("%s: %s\n", path, strerror(errno));
		return 1;
	}
	shunt_cgroup2_mount(mnt, sizeof(mnt));
	if (!mnt[0]) {
		fclose(f);
		pr_warn("no cgroup2 mount in /proc/mounts: cannot attach %s's cgroups\n", path);
		return 1;
	}
	if (cli_open_rw(env, &c)) {
		fclose(f);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		char cg[PATH_MAX * 2];
		int err;

		lineno++;
		line[strcspn(line, "#\n")] = 0;
		for (p = line + strlen(line); p > line && (p[-1] == ' ' || p[-1] == '\t'); p--)
			p[-1] = 0;
		for (p = line; *p == ' ' || *p == '\t' || *p == '/'; p++)
			;
		if (!*p)
			continue;
		if (strstr(p, "..")) {
			pr_warn("%s line %d: \"%s\": no '..' in a cgroup path\n", path, lineno, p);
			rc = 1;
			continue;
		}
		snprintf(cg, sizeof(cg), "%s/%s", mnt, p);
		if (access(cg, F_OK)) {
			pr_warn("cgroup %s does not exist yet: skipped (restore again when it does)\n", cg);
			missing++;
			continue;
		}
		err = shunt_attach(&c, cg, NULL);
		if (err) {
			pr_warn("%s line %d: %s\n", path, lineno, shunt_strerror());
			rc = 1;
			continue;
		}
		n++;
	}
	fclose(f);
	shunt_close(&c);
	pr_info("attached %d cgroup(s) of %s%s\n", n, path, missing ? ", some not there yet" : "");
	return rc;
}

static int load_declared(struct cli_env *env, const char *dir)
{
	int err, owned, netns;
	char path[PATH_MAX];
	struct ep_table t;
	struct shunt_ctx c;

	snprintf(path, sizeof(path), "%s/endpoints.json", dir);
	if (access(path, F_OK) && errno == ENOENT) {
		pr_info("no %s: the static endpoints are unchanged\n", path);
		return 0;
	}
	if (ep_table_load_file(&t, path)) {
		pr_warn("%s (the static endpoints are unchanged)\n", shunt_strerror());
		return 1;
	}
	if (cli_open_rw(env, &c)) {
		ep_table_free(&t);
		return 1;
	}
	err = shunt_ep_load_static(&c, &t, true, &owned, &netns);
	shunt_close(&c);
	if (err) {
		pr_warn("%s: %s (the static endpoints are unchanged)\n", path, shunt_strerror());
		ep_table_free(&t);
		return 1;
	}
	pr_info("loaded %d static endpoint(s) from %s", t.n - owned - netns, path);
	if (netns)
		pr_info("; %d skipped: their netns does not exist yet", netns);
	pr_info("\n");
	ep_table_free(&t);
	return 0;
}

int cmd_restore(struct cli_env *env, int argc, char **argv)
{
	struct shunt_load_opts lo = {};
	const char *dir = getenv("SHUNT_CONFIG") ?: "/etc/shunt";
	char *lopts[4];
	int nl = 0, rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			dir = argv[++i];
		} else if ((!strcmp(argv[i], "--max-sockets") || !strcmp(argv[i], "--fc-bound")) &&
			   i + 1 < argc && nl < 3) {
			lopts[nl++] = argv[i];
			lopts[nl++] = argv[++i];
		} else {
			pr_warn("usage: shunt restore [--config DIR] [--max-sockets N] [--fc-bound BYTES]\n");
			return 2;
		}
	}
	if (nl && cli_parse_load_opts(nl, lopts, &lo))
		return 2;
	if (access(dir, R_OK | X_OK)) {
		pr_warn("config %s: %s\n", dir, strerror(errno));
		return 1;
	}
	rc = load_or_upgrade(env, &lo);
	if (rc && rc != 1)
		return rc;
	/* Attach and endpoints even after a refused upgrade: the old programs run. */
	rc |= attach_declared(env, dir);
	rc |= load_declared(env, dir);
	return rc;
}

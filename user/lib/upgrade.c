// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* load --upgrade: new programs on a running instance's maps and links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "feature.h"
#include "log.h"
#include "pinned.h"
#include "shunt.skel.h"

/*
 * Upgrade a loaded instance to the BPF object built into this binary,
 * keeping every pinned map (endpoint table, sockhash with its sockets,
 * connection words, counters).  Sockets already in the sockhash keep the
 * verdict program they were inserted with (sock_map copies the map's
 * programs into each psock); the map, the cgroup links and the pins move to
 * the new programs, so new connections get them.  Map layouts must match:
 * libbpf refuses a reused map whose key or value size changed.
 */
/*
 * An attached cgroup gets every link this build attaches (a build that
 * added programs, as the bridge's connect hooks, would otherwise leave
 * cgroups attached before it without them until the next attach).  The
 * caller holds the instance lock.  Returns how many cgroups were completed.
 */
static int complete_links(const char *pin_dir)
{
	char path[PATH_MAX], mnt[PATH_MAX], cg[PATH_MAX];
	struct shunt_ctx c;
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (shunt_open(&c, pin_dir))
		return 0;
	shunt_cgroup2_mount(mnt, sizeof(mnt));
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	while (d && mnt[0] && (de = readdir(d))) {
		unsigned long long id;

		if (sscanf(de->d_name, "cg_%llu", &id) != 1 ||
		    !shunt_find_cgroup(mnt, id, cg, sizeof(cg), 0))
			continue;
		if (!shunt_attach(&c, cg, NULL))
			n++;
		else
			pr_warn("upgrade: %s: %s\n", cg, shunt_strerror());
	}
	if (d)
		closedir(d);
	shunt_close(&c);
	return n;
}

int shunt_upgrade(const char *pin_dir)
{
	char path[PATH_MAX + 300];
	struct shunt_features feat;
	struct shunt_bpf *skel = NULL;
	struct bpf_map *map;
	struct dirent *de;
	int err, fd, lock, pinned_new = 0;
	__u64 bound;
	DIR *d;

	err = shunt_check_env();
	if (err)
		return err;
	lock = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0)
		return shunt_set_error(errno, "not loaded (no %s): nothing to upgrade", pin_dir);
	err = shunt_flock(lock, LOCK_EX, SHUNT_LOCK_WAIT_MS, pin_dir);
	if (err) {
		close(lock);
		return err;
	}
	skel = shunt_bpf__open();
	if (!skel) {
		err = shunt_set_error(errno, "cannot open BPF object: %s", strerror(errno));
		goto out;
	}
	bpf_object__for_each_map(map, skel->obj) {
		char why[256];

		if (bpf_map__is_internal(map))
			continue;
		fd = shunt_pin_open(pin_dir, "maps", bpf_map__name(map));
		if (fd < 0 && errno == ENOENT)
			continue;	/* a map the new object adds: pinned below */
		if (fd < 0) {
			err = shunt_set_error(errno, "%s/maps/%s: %s", pin_dir, bpf_map__name(map), strerror(errno));
			goto out;
		}
		if (!pinned_map_compatible(fd, map, bpf_object__btf(skel->obj), why, sizeof(why))) {
			close(fd);
			err = shunt_set_error(EINVAL, "cannot upgrade in place: map %s changed layout (%s); the running instance is untouched ('shunt unload', then 'shunt load')",
					      bpf_map__name(map), why);
			goto out;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err) {
			err = shunt_set_error(err, "reuse map %s: %s", bpf_map__name(map), strerror(-err));
			goto out;
		}
	}
	/* Keep the load-time setting: the old verdict's .rodata has it. */
	fd = shunt_pin_open(pin_dir, "progs", "shunt_msg");
	if (fd < 0 || pinned_rodata_u64(fd, "fc_bound", &bound)) {
		if (fd >= 0)
			close(fd);
		err = shunt_set_error(EINVAL, "cannot read the running instance's flow-control bound from %s/progs/shunt_msg; the running instance is untouched",
				      pin_dir);
		goto out;
	}
	close(fd);
	skel->rodata->fc_bound = bound;
	err = shunt_setup_features(skel, &feat);
	if (err)
		goto out;
	err = shunt_bpf__load(skel);
	if (err) {
		err = shunt_set_error(err, "kernel refused the new programs, or the pinned maps' layout differs (%s); the running instance is untouched",
				      strerror(-err));
		goto out;
	}
	/* Pin the maps the new object adds before anything switches over. */
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, bpf_map__name(map));
		if (!access(path, F_OK))
			continue;	/* reused */
		err = bpf_map__pin(map, path);
		if (err) {
			err = shunt_set_error(err, "pin new map %s: %s; the running instance is untouched",
					      path, strerror(-err));
			goto out;
		}
		pinned_new++;
	}
	if (bpf_prog_attach(bpf_program__fd(skel->progs.shunt_msg),
			    bpf_map__fd(skel->maps.shunt_sockhash), BPF_SK_MSG_VERDICT, 0)) {
		err = shunt_set_error(errno, "replace the sk_msg verdict: %s", strerror(errno));
		goto out;
	}
	/* Every cgroup link switches program atomically. */
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		int prog_fd;

		if (!strncmp(de->d_name, "cg_", 3))
			prog_fd = bpf_program__fd(skel->progs.shunt_sockops);
		else if (!strncmp(de->d_name, "cgso_", 5))
			prog_fd = bpf_program__fd(skel->progs.shunt_setsockopt);
		else if (!strncmp(de->d_name, "cgc4_", 5))
			prog_fd = bpf_program__fd(skel->progs.shunt_connect4);
		else if (!strncmp(de->d_name, "cgc6_", 5))
			prog_fd = bpf_program__fd(skel->progs.shunt_connect6);
		else if (!strncmp(de->d_name, "cgpn4_", 6))
			prog_fd = bpf_program__fd(skel->progs.shunt_getpeername4);
		else if (!strncmp(de->d_name, "cgpn6_", 6))
			prog_fd = bpf_program__fd(skel->progs.shunt_getpeername6);
		else
			continue;
		fd = shunt_pin_open(pin_dir, "links", de->d_name);
		if (fd < 0 || bpf_link_update(fd, prog_fd, NULL))
			err = shunt_set_error(errno, "update link %s: %s", de->d_name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	if (err)
		goto out;
	/*
	 * The read counter: detach the old one before attaching the new, never
	 * both (a read counted twice could let a socket leave the sockhash
	 * with bytes still queued; one not counted only keeps it longer).
	 */
	for (size_t i = 0; i < SHUNT_NR_RX_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/links/%s", pin_dir, shunt_rx_links[i]);
		unlink(path);
	}
	err = shunt_attach_rx(skel, pin_dir);
	if (err)
		goto out;
	err = shunt_pin_programs(skel->obj, pin_dir);
	if (!err && pinned_new)
		pr_info("upgrade added %d map(s)\n", pinned_new);
	if (!err)
		complete_links(pin_dir);
out:
	shunt_bpf__destroy(skel);
	close(lock);
	return err;
}

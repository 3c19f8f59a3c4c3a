// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A shunt instance's life: load, open (and lock), drain, unload. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "feature.h"
#include "log.h"
#include "shunt.skel.h"

int shunt_check_env(void)
{
	if (geteuid() != 0)
		return shunt_set_error(EPERM, "must run as root (CAP_BPF and CAP_NET_ADMIN needed)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return shunt_set_error(ENOTSUP, "kernel has no BTF (/sys/kernel/btf/vmlinux): CONFIG_DEBUG_INFO_BTF=y is required");
	return 0;
}

int shunt_pin_programs(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_program *prog;
	int err;

	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		snprintf(path, sizeof(path), "%s/progs/%s", dir, bpf_program__name(prog));
		unlink(path);
		err = bpf_program__pin(prog, path);
		if (err)
			return shunt_set_error(err, "pin %s: %s", path, strerror(-err));
	}
	return 0;
}

/* Attaches @prog by its section (tp_btf/...) and pins the link at dir/name. */
static int attach_pin(struct bpf_program *prog, const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	link = bpf_program__attach(prog);
	if (!link)
		return shunt_set_error(errno, "cannot attach %s: %s",
				       bpf_program__section_name(prog), strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err = bpf_link__pin(link, path);
	bpf_link__destroy(link);	/* the pin keeps it attached */
	if (err)
		return shunt_set_error(err, "pin %s: %s", path, strerror(-err));
	return 0;
}

/* The read counter's link pins, whichever hook it is (links/<prog>). */
const char *const shunt_rx_links[SHUNT_NR_RX_LINKS] = { "shunt_recv", "shunt_recv4", "shunt_recv6" };

/*
 * Probes the kernel, refuses it if a required part is missing, and sets the
 * object up for the read counter the probe chose: only that program loads.
 */
/* FNV-1a over the embedded object: identifies a build of the programs. */
__u64 shunt_object_id(void)
{
	size_t n = 0;
	const unsigned char *b = shunt_bpf__elf_bytes(&n);
	__u64 h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

int shunt_setup_features(struct shunt_bpf *skel, struct shunt_features *f)
{
	int err;

	skel->rodata->obj_id = shunt_object_id();
	snprintf((char *)skel->rodata->build_version, sizeof(skel->rodata->build_version), "%s",
		 shunt_build_version());
	shunt_features_probe(f, false);
	err = shunt_features_require(f);
	if (err)
		return err;
	skel->rodata->rx_hook = f->rx_hook;
	bpf_program__set_autoload(skel->progs.shunt_recv, f->rx_hook == SHUNT_RX_TP);
	bpf_program__set_autoload(skel->progs.shunt_recv4, f->rx_hook == SHUNT_RX_FEXIT);
	bpf_program__set_autoload(skel->progs.shunt_recv6, f->rx_hook == SHUNT_RX_FEXIT);
	return 0;
}

/* The read counter's global tracing links, pinned at dir/links/<prog>. */
int shunt_attach_rx(struct shunt_bpf *skel, const char *dir)
{
	struct bpf_program *progs[] = {
		skel->progs.shunt_recv, skel->progs.shunt_recv4, skel->progs.shunt_recv6,
	};
	char name[64];
	int err;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (!bpf_program__autoload(progs[i]))
			continue;
		snprintf(name, sizeof(name), "links/%s", bpf_program__name(progs[i]));
		err = attach_pin(progs[i], dir, name);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Loads into PIN_DIR_loading_PID and renames that to PIN_DIR as the last step,
 * so an interrupted or failed load never leaves a half-populated instance.
 */
int shunt_load(const char *pin_dir, const struct shunt_load_opts *opts)
{
	char tmp[PATH_MAX], path[PATH_MAX + 64];
	struct shunt_features feat;
	struct shunt_bpf *skel = NULL;
	struct bpf_map *map;
	int err;

	err = shunt_check_env();
	if (!err)
		err = shunt_ensure_bpffs(pin_dir);
	if (err)
		return err;
	if (!access(pin_dir, F_OK))
		return -EEXIST;

	/* bpffs refuses names with a dot (bpf_lookup). */
	snprintf(tmp, sizeof(tmp), "%s_loading_%d", pin_dir, getpid());
	if (mkdir(tmp, 0700))
		return shunt_set_error(errno, "mkdir %s: %s", tmp, strerror(errno));

	skel = shunt_bpf__open();
	if (!skel) {
		err = shunt_set_error(errno, "cannot open BPF object: %s", strerror(errno));
		goto fail;
	}
	if (opts && opts->max_sockets) {
		/* Sockets, and the connection words of two sockets each. */
		bpf_map__set_max_entries(skel->maps.shunt_sockhash, opts->max_sockets);
		bpf_map__set_max_entries(skel->maps.shunt_conns, opts->max_sockets);
	}
	if (opts && opts->fc_bound)
		skel->rodata->fc_bound = opts->fc_bound;
	err = shunt_setup_features(skel, &feat);
	if (err)
		goto fail;
	if (feat.rx_hook == SHUNT_RX_NONE)
		pr_warn("read counter: %s\n", feat.rx_why);
	else
		pr_debug("read counter: %s\n", feat.rx_why);
	err = shunt_bpf__load(skel);
	if (err) {
		err = shunt_set_error(err, "kernel refused shunt's BPF programs (%s); run with -v for the verifier log, 'shunt features' for what this kernel has",
				      strerror(-err));
		goto fail;
	}
	/* The sk_msg verdict hangs off the sockhash: it lives as long as the map. */
	err = bpf_prog_attach(bpf_program__fd(skel->progs.shunt_msg),
			      bpf_map__fd(skel->maps.shunt_sockhash),
			      BPF_SK_MSG_VERDICT, 0);
	if (err) {
		err = shunt_set_error(errno, "cannot attach sk_msg verdict to the sockhash: %s", strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/maps", tmp);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/progs", tmp);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/links", tmp);
	mkdir(path, 0700);
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", tmp, bpf_map__name(map));
		err = bpf_map__pin(map, path);
		if (err) {
			err = shunt_set_error(err, "pin %s: %s", path, strerror(-err));
			goto fail;
		}
	}
	/* The read counter: global tracing links. */
	err = shunt_attach_rx(skel, tmp);
	if (err)
		goto fail;
	err = shunt_pin_programs(skel->obj, tmp);
	if (err)
		goto fail;
	if (rename(tmp, pin_dir)) {
		err = shunt_set_error(errno, "rename %s to %s: %s", tmp, pin_dir, strerror(errno));
		goto fail;
	}
	shunt_bpf__destroy(skel);
	return 0;
fail:
	shunt_rm_tree(tmp);
	shunt_bpf__destroy(skel);
	return err;
}

void shunt_close(struct shunt_ctx *c)
{
	int *fds[] = { &c->lock_fd, &c->cfg_fd, &c->ep_local_fd, &c->ep_peer_fd,
		       &c->endpoints_fd, &c->sockhash_fd, &c->conns_fd,
		       &c->stats_fd, &c->sockops_fd, &c->setsockopt_fd,
		       &c->ep_stats_fd, &c->tcp_conns_fd, &c->ev_rings_fd, &c->ev_readers_fd, &c->ev_lost_fd,
		       &c->br_dst_fd, &c->br_agent_fd, &c->br_handover_fd, &c->br_stats_fd,
		       &c->connect4_fd, &c->connect6_fd, &c->getpeername4_fd, &c->getpeername6_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int shunt_open(struct shunt_ctx *c, const char *pin_dir)
{
	struct { int *fd; const char *kind, *name; } objs[] = {
		{ &c->cfg_fd, "maps", "shunt_cfg" },
		{ &c->ep_local_fd, "maps", "shunt_ep_local" },
		{ &c->ep_peer_fd, "maps", "shunt_ep_peer" },
		{ &c->endpoints_fd, "maps", "shunt_endpoints" },
		{ &c->sockhash_fd, "maps", "shunt_sockhash" },
		{ &c->conns_fd, "maps", "shunt_conns" },
		{ &c->stats_fd, "maps", "shunt_stats" },
		{ &c->ep_stats_fd, "maps", "shunt_ep_stats" },
		{ &c->tcp_conns_fd, "maps", "shunt_tcp_conns" },
		{ &c->ev_rings_fd, "maps", "shunt_ev_rings" },
		{ &c->ev_readers_fd, "maps", "shunt_ev_readers" },
		{ &c->ev_lost_fd, "maps", "shunt_ev_lost" },
		{ &c->sockops_fd, "progs", "shunt_sockops" },
		{ &c->setsockopt_fd, "progs", "shunt_setsockopt" },
		{ &c->br_dst_fd, "maps", "shunt_br_dst" },
		{ &c->br_agent_fd, "maps", "shunt_br_agent" },
		{ &c->br_handover_fd, "maps", "shunt_br_handover" },
		{ &c->br_stats_fd, "maps", "shunt_br_stats" },
		{ &c->connect4_fd, "progs", "shunt_connect4" },
		{ &c->connect6_fd, "progs", "shunt_connect6" },
		{ &c->getpeername4_fd, "progs", "shunt_getpeername4" },
		{ &c->getpeername6_fd, "progs", "shunt_getpeername6" },
	};
	int err;

	memset(c, 0, sizeof(*c));
	c->lock_fd = -1;
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		*objs[i].fd = -1;
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", pin_dir);

	err = shunt_check_env();
	if (err)
		return err;
	c->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->lock_fd < 0) {
		if (errno == ENOENT)
			return shunt_set_error(ENOENT, "not loaded (no %s); run 'shunt load' first", pin_dir);
		return shunt_set_error(errno, "open %s: %s", pin_dir, strerror(errno));
	}
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		*objs[i].fd = shunt_pin_open(pin_dir, objs[i].kind, objs[i].name);
		if (*objs[i].fd < 0) {
			err = shunt_set_error(errno, "%s/%s/%s: %s (loaded by an earlier shunt? 'shunt load --upgrade'; else incomplete: 'shunt unload' and load again)",
					      pin_dir, objs[i].kind, objs[i].name, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	shunt_close(c);
	return err;
}

/*
 * flock with a deadline: LOCK_NB attempts, backing off from 1 ms to 50 ms.
 * A writer (a container's hook among them) must not hang behind another
 * that is stuck, so every lock in the library has a timeout.
 */
int shunt_flock(int fd, int how, int timeout_ms, const char *what)
{
	struct timespec start, now;
	int delay_us = 1000;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (!flock(fd, how | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return shunt_set_error(errno, "lock %s: %s", what, strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_ms >= 0 &&
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= timeout_ms)
			return shunt_set_error(ETIMEDOUT, "%s is locked by another shunt writer; gave up after %d ms",
					       what, timeout_ms);
		usleep(delay_us);
		if (delay_us < 50000)
			delay_us *= 2;
	}
}

/*
 * Writers (table edits, attach, detach) serialize on an exclusive flock of
 * the pin dir; readers take none.  Once held, the dir must still be the one
 * opened: an unload (and maybe a new load) may have run while we waited.
 */
int shunt_lock(struct shunt_ctx *c, int timeout_ms)
{
	struct stat a, b;
	int err;

	err = shunt_flock(c->lock_fd, LOCK_EX, timeout_ms, c->pin_dir);
	if (err)
		return err;
	if (fstat(c->lock_fd, &a) || stat(c->pin_dir, &b) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		flock(c->lock_fd, LOCK_UN);
		return shunt_set_error(ENOENT, "%s was unloaded while waiting for its lock", c->pin_dir);
	}
	return 0;
}

int shunt_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	int err, fd;

	err = shunt_check_env();
	if (err)
		return err;
	fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return shunt_set_error(errno, "open %s: %s", pin_dir, strerror(errno));
	}
	err = shunt_flock(fd, LOCK_EX, SHUNT_LOCK_WAIT_MS, pin_dir);
	if (err) {
		close(fd);
		return err;
	}
	/* Links first: unpinning the last reference detaches from the cgroup. */
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	shunt_rm_tree(path);
	snprintf(path, sizeof(path), "%s/progs", pin_dir);
	shunt_rm_tree(path);
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	shunt_rm_tree(path);
	close(fd);
	if (rmdir(pin_dir) && errno != ENOENT)
		return shunt_set_error(errno, "rmdir %s: %s", pin_dir, strerror(errno));
	return 0;
}

static int count_keys(int fd, size_t key_size)
{
	char key[256], next[256];
	void *prev = NULL;
	int n = 0;

	while (key_size <= sizeof(key) && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/* Clears the pause a refused unload left: new connections redirect again. */
/* Sets or clears cfg flag bits, under the writers' lock (table writes
 * rewrite shunt_cfg too); reports the old flags. */
static int cfg_flags(struct shunt_ctx *c, __u32 set, __u32 clear, __u32 *old)
{
	struct shunt_cfg cfg;
	__u32 zero = 0;
	int err;

	err = shunt_lock(c, SHUNT_LOCK_WAIT_MS);
	if (err)
		return err;
	if (bpf_map_lookup_elem(c->cfg_fd, &zero, &cfg)) {
		err = shunt_set_error(errno, "read shunt_cfg: %s", strerror(errno));
		goto out;
	}
	*old = cfg.flags;
	cfg.flags = (cfg.flags | set) & ~clear;
	if (cfg.flags != *old && bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY))
		err = shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
out:
	flock(c->lock_fd, LOCK_UN);
	return err;
}

int shunt_resume(struct shunt_ctx *c, bool *was_paused)
{
	__u32 old;
	int err = cfg_flags(c, 0, SHUNT_CFG_PAUSED, &old);

	*was_paused = old & SHUNT_CFG_PAUSED;
	return err;
}

/*
 * Unloading frees the sockhash, and with it every psock and the bytes still
 * queued in them.  So first pause (new connections stay on TCP), then wait
 * up to @wait_s seconds for the redirected sockets to close.
 */
int shunt_drain(struct shunt_ctx *c, int wait_s)
{
	__u32 old = 0;
	int n, err;

	/* Not holding the lock while waiting: hooks keep working meanwhile. */
	err = cfg_flags(c, SHUNT_CFG_PAUSED, 0, &old);
	if (err)
		return err;
	for (int i = 0;; i++) {
		n = count_keys(c->sockhash_fd, sizeof(struct shunt_sock_key));
		if (!n)
			return 0;
		if (i >= wait_s * 10)
			break;
		usleep(100 * 1000);
	}
	return shunt_set_error(EBUSY, "%d sockets still use the redirect path and unloading would drop their queued data; new connections now stay on TCP: retry when they have closed, wait with --wait SECS, or --force", n);
}

/* --- cgroups -------------------------------------------------------- */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "feature.h"
#include "log.h"
#include "pinned.h"
#include "shunt.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

const char *const shunt_stat_names[SHUNT_ST_MAX] = {
	[SHUNT_ST_ESTABLISHED]		= "established",
	[SHUNT_ST_SOCK_ADDED]		= "sockets_added",
	[SHUNT_ST_SOCK_REMOVED]		= "sockets_removed",
	[SHUNT_ST_CONN_REDIR]		= "connections_redirected",
	[SHUNT_ST_TX_REDIR]		= "directions_redirected",
	[SHUNT_ST_TX_TCP]		= "directions_tcp",
	[SHUNT_ST_MSG_REDIR]		= "messages_redirected",
	[SHUNT_ST_BYTES_REDIR]		= "bytes_redirected",
	[SHUNT_ST_FC_DETOUR]		= "fc_detours",
	[SHUNT_ST_FC_RESUME]		= "fc_resumes",
	[SHUNT_ST_BYTES_DETOUR]		= "bytes_detoured",
	[SHUNT_ST_TCP_PAUSED]		= "tcp_paused",
	[SHUNT_ST_TCP_FAMILY]		= "tcp_family",
	[SHUNT_ST_TCP_NO_LOCAL]		= "tcp_no_local_endpoint",
	[SHUNT_ST_TCP_NO_PEER]		= "tcp_no_peer_endpoint",
	[SHUNT_ST_TCP_PEER_REMOTE]	= "tcp_peer_remote",
	[SHUNT_ST_TCP_SAME_NETNS]	= "tcp_same_netns",
	[SHUNT_ST_TCP_MAP_FULL]		= "tcp_map_full",
	[SHUNT_ST_TCP_PEER_ABSENT]	= "tcp_peer_absent",
	[SHUNT_ST_TCP_SENT_BYTES]	= "tcp_sent_bytes",
	[SHUNT_ST_TCP_CONN_TCP]		= "tcp_conn_tcp",
	[SHUNT_ST_TCP_LATE]		= "tcp_joined_late",
	[SHUNT_ST_TCP_PEER_GONE]	= "tcp_peer_gone",
	[SHUNT_ST_TCP_SEMANTICS]	= "tcp_semantics",
	[SHUNT_ST_RX_EAGAIN]		= "kernel_eagain",
	[SHUNT_ST_TCP_NO_RX_HOOK]	= "tcp_no_read_counter",
};

static char errbuf[1024];

const char *shunt_strerror(void)
{
	return errbuf;
}

int shunt_set_error(int err, const char *fmt, ...)
{
	char buf[sizeof(errbuf)];
	va_list ap;

	/* Through a copy: callers may pass shunt_strerror() as an argument. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Errors quote user input (paths): keep them one printable line. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	memcpy(errbuf, buf, sizeof(errbuf));
	return err > 0 ? -err : err;
}

/* --- environment checks ---------------------------------------------- */

int shunt_check_env(void)
{
	if (geteuid() != 0)
		return shunt_set_error(EPERM, "must run as root (CAP_BPF and CAP_NET_ADMIN needed)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return shunt_set_error(ENOTSUP, "kernel has no BTF (/sys/kernel/btf/vmlinux): CONFIG_DEBUG_INFO_BTF=y is required");
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The pin dir's parent must be on bpffs; mount /sys/fs/bpf if it is not. */
static int ensure_bpffs(const char *pin_dir)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return shunt_set_error(EINVAL, "pin dir %s: must be a directory below a bpffs mount", pin_dir);
	*slash = 0;
	if (is_bpffs(parent))
		return 0;
	if (strncmp(parent, "/sys/fs/bpf", 11) ||
	    (parent[11] != 0 && parent[11] != '/'))
		return shunt_set_error(ENOTSUP, "%s is not on a bpffs mount", parent);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return shunt_set_error(errno, "cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
	if (!is_bpffs(parent))
		return shunt_set_error(ENOENT, "%s does not exist on bpffs", parent);
	return 0;
}

/* --- load / unload -------------------------------------------------- */

static void rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Pins every loaded program at dir/progs/<name>, replacing an older pin. */
static int pin_programs(struct bpf_object *obj, const char *dir)
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
static const char *const rx_links[] = { "shunt_recv", "shunt_recv4", "shunt_recv6" };

/*
 * Probes the kernel, refuses it if a required part is missing, and sets the
 * object up for the read counter the probe chose: only that program loads.
 */
static int setup_features(struct shunt_bpf *skel, struct shunt_features *f)
{
	int err;

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
static int attach_rx(struct shunt_bpf *skel, const char *dir)
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
		err = ensure_bpffs(pin_dir);
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
	err = setup_features(skel, &feat);
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
	err = attach_rx(skel, tmp);
	if (err)
		goto fail;
	err = pin_programs(skel->obj, tmp);
	if (err)
		goto fail;
	if (rename(tmp, pin_dir)) {
		err = shunt_set_error(errno, "rename %s to %s: %s", tmp, pin_dir, strerror(errno));
		goto fail;
	}
	shunt_bpf__destroy(skel);
	return 0;
fail:
	rm_tree(tmp);
	shunt_bpf__destroy(skel);
	return err;
}

static int open_pinned(const char *pin_dir, const char *kind, const char *name);

/*
 * Upgrade a loaded instance to the BPF object built into this binary,
 * keeping every pinned map (endpoint table, sockhash with its sockets,
 * connection words, counters).  Sockets already in the sockhash keep the
 * verdict program they were inserted with (sock_map copies the map's
 * programs into each psock); the map, the cgroup links and the pins move to
 * the new programs, so new connections get them.  Map layouts must match:
 * libbpf refuses a reused map whose key or value size changed.
 */
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
	flock(lock, LOCK_EX);
	skel = shunt_bpf__open();
	if (!skel) {
		err = shunt_set_error(errno, "cannot open BPF object: %s", strerror(errno));
		goto out;
	}
	bpf_object__for_each_map(map, skel->obj) {
		char why[256];

		if (bpf_map__is_internal(map))
			continue;
		fd = open_pinned(pin_dir, "maps", bpf_map__name(map));
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
	fd = open_pinned(pin_dir, "progs", "shunt_msg");
	if (fd < 0 || pinned_rodata_u64(fd, "fc_bound", &bound)) {
		if (fd >= 0)
			close(fd);
		err = shunt_set_error(EINVAL, "cannot read the running instance's flow-control bound from %s/progs/shunt_msg; the running instance is untouched",
				      pin_dir);
		goto out;
	}
	close(fd);
	skel->rodata->fc_bound = bound;
	err = setup_features(skel, &feat);
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
		else
			continue;
		fd = open_pinned(pin_dir, "links", de->d_name);
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
	for (size_t i = 0; i < sizeof(rx_links) / sizeof(rx_links[0]); i++) {
		snprintf(path, sizeof(path), "%s/links/%s", pin_dir, rx_links[i]);
		unlink(path);
	}
	err = attach_rx(skel, pin_dir);
	if (err)
		goto out;
	err = pin_programs(skel->obj, pin_dir);
	if (!err && pinned_new)
		pr_info("upgrade added %d map(s)\n", pinned_new);
out:
	shunt_bpf__destroy(skel);
	close(lock);
	return err;
}

static int open_pinned(const char *pin_dir, const char *kind, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, kind, name);
	return bpf_obj_get(path);
}

void shunt_close(struct shunt_ctx *c)
{
	int *fds[] = { &c->lock_fd, &c->cfg_fd, &c->ep_local_fd, &c->ep_peer_fd,
		       &c->endpoints_fd, &c->sockhash_fd, &c->conns_fd,
		       &c->stats_fd, &c->sockops_fd, &c->setsockopt_fd };

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
		{ &c->sockops_fd, "progs", "shunt_sockops" },
		{ &c->setsockopt_fd, "progs", "shunt_setsockopt" },
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
	/* Serializes shunt invocations on one instance (endpoint table edits). */
	if (flock(c->lock_fd, LOCK_EX)) {
		err = shunt_set_error(errno, "lock %s: %s", pin_dir, strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		*objs[i].fd = open_pinned(pin_dir, objs[i].kind, objs[i].name);
		if (*objs[i].fd < 0) {
			err = shunt_set_error(errno, "%s/%s/%s: %s (incomplete instance? 'shunt unload' and load again)",
					      pin_dir, objs[i].kind, objs[i].name, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	shunt_close(c);
	return err;
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
	flock(fd, LOCK_EX);
	/* Links first: unpinning the last reference detaches from the cgroup. */
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	rm_tree(path);
	snprintf(path, sizeof(path), "%s/progs", pin_dir);
	rm_tree(path);
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	rm_tree(path);
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
int shunt_resume(struct shunt_ctx *c, bool *was_paused)
{
	struct shunt_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->cfg_fd, &zero, &cfg))
		return shunt_set_error(errno, "read shunt_cfg: %s", strerror(errno));
	*was_paused = cfg.flags & SHUNT_CFG_PAUSED;
	cfg.flags &= ~SHUNT_CFG_PAUSED;
	if (*was_paused && bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY))
		return shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
	return 0;
}

/*
 * Unloading frees the sockhash, and with it every psock and the bytes still
 * queued in them.  So first pause (new connections stay on TCP), then wait
 * up to @wait_s seconds for the redirected sockets to close.
 */
int shunt_drain(struct shunt_ctx *c, int wait_s)
{
	struct shunt_cfg cfg;
	__u32 zero = 0;
	int n;

	if (bpf_map_lookup_elem(c->cfg_fd, &zero, &cfg))
		return shunt_set_error(errno, "read shunt_cfg: %s", strerror(errno));
	cfg.flags |= SHUNT_CFG_PAUSED;
	if (bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY))
		return shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
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

static int open_cgroup(const char *cgroup, __u64 *id)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return shunt_set_error(errno, "cgroup %s: %s", cgroup, strerror(errno));
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return shunt_set_error(EINVAL, "%s is not a cgroup v2 directory (look for the cgroup2 mount in /proc/mounts)", cgroup);
	}
	fstat(fd, &st);
	/* On cgroup2 (kernfs), a cgroup's id is its directory inode; 1 is the root. */
	if (st.st_ino == 1) {
		close(fd);
		return shunt_set_error(EPERM, "refusing to attach to the root cgroup %s: it would redirect the whole host; name a child cgroup", cgroup);
	}
	*id = st.st_ino;
	return fd;
}

/* The programs every attached cgroup gets, and their link pin names. */
static const struct {
	const char *pin;
	enum bpf_attach_type type;
} cg_progs[] = {
	{ "cg", BPF_CGROUP_SOCK_OPS },
	{ "cgso", BPF_CGROUP_SETSOCKOPT },
};

static int cg_prog_fd(struct shunt_ctx *c, size_t i)
{
	return i == 0 ? c->sockops_fd : c->setsockopt_fd;
}

/* Both links or neither: a half attach is undone. */
int shunt_attach(struct shunt_ctx *c, const char *cgroup)
{
	char path[PATH_MAX];
	size_t i, done = 0;
	int cg, link, err = 0;
	__u64 id;

	cg = open_cgroup(cgroup, &id);
	if (cg < 0)
		return cg;
	for (i = 0; i < sizeof(cg_progs) / sizeof(cg_progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/links/%s_%llu", c->pin_dir,
			 cg_progs[i].pin, (unsigned long long)id);
		if (!access(path, F_OK))
			continue;	/* already attached: idempotent */
		link = bpf_link_create(cg_prog_fd(c, i), cg, cg_progs[i].type, NULL);
		if (link < 0) {
			err = shunt_set_error(errno, "attach to %s: %s", cgroup, strerror(errno));
			break;
		}
		if (bpf_obj_pin(link, path))
			err = shunt_set_error(errno, "pin %s: %s", path, strerror(errno));
		close(link);	/* the pin holds the link; without it, detached here */
		if (err)
			break;
		done |= 1u << i;
	}
	for (i = 0; err && i < sizeof(cg_progs) / sizeof(cg_progs[0]); i++) {
		if (!(done & (1u << i)))
			continue;
		snprintf(path, sizeof(path), "%s/links/%s_%llu", c->pin_dir,
			 cg_progs[i].pin, (unsigned long long)id);
		unlink(path);
	}
	close(cg);
	return err;
}

int shunt_detach(struct shunt_ctx *c, const char *cgroup)
{
	char path[PATH_MAX];
	int cg, found = 0;
	__u64 id;

	cg = open_cgroup(cgroup, &id);
	if (cg < 0)
		return cg;
	close(cg);
	for (size_t i = 0; i < sizeof(cg_progs) / sizeof(cg_progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/links/%s_%llu", c->pin_dir,
			 cg_progs[i].pin, (unsigned long long)id);
		if (!unlink(path))
			found++;
		else if (errno != ENOENT)
			return shunt_set_error(errno, "unpin %s: %s", path, strerror(errno));
	}
	if (!found)
		return shunt_set_error(ENOENT, "%s is not attached", cgroup);
	return 0;
}

/* Finds the path of cgroup @id below @dir (depth-first, bounded). */
static bool find_cgroup(const char *dir, __u64 id, char *out, size_t len, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (depth > 16 || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!stat(path, &st) && st.st_ino == id) {
			snprintf(out, len, "%s", path);
			found = true;
		} else {
			found = find_cgroup(path, id, out, len, depth + 1);
		}
	}
	closedir(d);
	return found;
}

static void cgroup2_mount(char *out, size_t len)
{
	char dev[64], mnt[PATH_MAX], type[64];
	FILE *f = fopen("/proc/mounts", "r");

	out[0] = 0;
	if (!f)
		return;
	while (fscanf(f, "%63s %4095s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(out, len, "%s", mnt);
			break;
		}
	}
	fclose(f);
}

/* --- netns ---------------------------------------------------------- */

/*
 * The netns cookie is what BPF sees (bpf_get_netns_cookie); read it with
 * SO_NETNS_COOKIE on a socket made inside the namespace.
 */
int shunt_netns_cookie(const char *netns, __u64 *cookie)
{
	char path[PATH_MAX];
	socklen_t len = sizeof(*cookie);
	int self = -1, target = -1, sock = -1, err = 0;

	if (!netns[0])
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	else if (strchr(netns, '/'))
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", netns);

	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(target, CLONE_NEWNET)) {
		err = shunt_set_error(errno, "netns %s: %s", path, strerror(errno));
		goto out;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = shunt_set_error(errno, "netns cookie of %s: %s (kernel >= 5.14 needed)", path, strerror(errno));
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot happen for our own netns; never continue in the wrong one. */
		fprintf(stderr, "shunt: cannot return to own netns: %s\n", strerror(errno));
		abort();
	}
out:
	if (sock >= 0)
		close(sock);
	if (self >= 0)
		close(self);
	close(target);
	return err;
}

/* --- endpoint table ------------------------------------------------- */

static int get_cfg(struct shunt_ctx *c, struct shunt_cfg *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->cfg_fd, &zero, cfg))
		return shunt_set_error(errno, "read shunt_cfg: %s", strerror(errno));
	return 0;
}

static void meta_to_ep(const struct shunt_ep_meta_key *k,
		       const struct shunt_ep_meta *m, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	snprintf(ep->name, sizeof(ep->name), "%s", k->name);
	snprintf(ep->network, sizeof(ep->network), "%s", m->network);
	snprintf(ep->netns, sizeof(ep->netns), "%s", m->netns);
	memcpy(ep->mac, m->mac, 6);
	ep->has_mac = m->has_mac;
	ep->naddrs = m->naddrs > SHUNT_MAX_ADDRS ? SHUNT_MAX_ADDRS : m->naddrs;
	memcpy(ep->addrs, m->addrs, sizeof(ep->addrs));
	ep->netns_cookie = m->netns_cookie;
	ep->net_id = m->net_id;
	ep->ep_id = m->ep_id;
}

static int cmp_ep_id(const void *a, const void *b)
{
	const struct endpoint *x = a, *y = b;

	return x->ep_id < y->ep_id ? -1 : x->ep_id > y->ep_id;
}

int shunt_ep_read(struct shunt_ctx *c, struct ep_table *t)
{
	struct shunt_ep_meta_key key, next, *prev = NULL;
	struct shunt_ep_meta meta;
	struct shunt_cfg cfg;
	struct endpoint ep;
	int err;

	memset(t, 0, sizeof(*t));
	err = get_cfg(c, &cfg);
	if (err)
		return err;
	while (!bpf_map_get_next_key(c->endpoints_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.gen != cfg.gen ||
		    bpf_map_lookup_elem(c->endpoints_fd, &key, &meta))
			continue;
		meta_to_ep(&key, &meta, &ep);
		if (ep_table_add(t, &ep)) {
			ep_table_free(t);
			return shunt_set_error(EINVAL, "stored endpoint table is inconsistent: %s", ep_strerror());
		}
	}
	/* Hash order is arbitrary; list in the order endpoints were added. */
	qsort(t->eps, t->n, sizeof(*t->eps), cmp_ep_id);
	return 0;
}

/* Deletes every entry of generation @gen from the three endpoint maps. */
static void purge_gen(struct shunt_ctx *c, __u32 gen)
{
	struct { int fd; size_t ksz; size_t gen_off; } maps[] = {
		{ c->ep_local_fd, sizeof(struct shunt_ep_local_key),
		  offsetof(struct shunt_ep_local_key, gen) },
		{ c->ep_peer_fd, sizeof(struct shunt_ep_peer_key),
		  offsetof(struct shunt_ep_peer_key, gen) },
		{ c->endpoints_fd, sizeof(struct shunt_ep_meta_key),
		  offsetof(struct shunt_ep_meta_key, gen) },
	};
	char key[256], next[256];

	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
		void *prev = NULL;

		/* Deleting while walking can restart the walk; that is fine,
		 * each pass deletes at least the key it stands on. */
		while (!bpf_map_get_next_key(maps[m].fd, prev, next)) {
			__u32 g;

			memcpy(&g, next + maps[m].gen_off, sizeof(g));
			memcpy(key, next, maps[m].ksz);
			if (g == gen)
				bpf_map_delete_elem(maps[m].fd, key);
			prev = key;
		}
	}
}

static int write_gen(struct shunt_ctx *c, const struct ep_table *t, __u32 gen)
{
	for (int i = 0; i < t->n; i++) {
		const struct endpoint *ep = &t->eps[i];
		struct shunt_ep_meta_key mk = { .gen = gen };
		struct shunt_ep_meta meta = {};

		for (int a = 0; a < ep->naddrs; a++) {
			struct shunt_ep_local_key lk;
			struct shunt_ep_local_val lv = { ep->net_id, ep->ep_id };
			struct shunt_ep_peer_key pk;
			struct shunt_ep_peer_val pv = { ep->netns_cookie, ep->ep_id,
							SHUNT_LOC_NETNS };

			shunt_ep_local_key_build(&lk, ep->netns_cookie, gen, &ep->addrs[a]);
			shunt_ep_peer_key_build(&pk, ep->net_id, gen, &ep->addrs[a]);
			if (bpf_map_update_elem(c->ep_local_fd, &lk, &lv, BPF_ANY) ||
			    bpf_map_update_elem(c->ep_peer_fd, &pk, &pv, BPF_ANY))
				goto fail;
		}
		snprintf(mk.name, sizeof(mk.name), "%s", ep->name);
		snprintf(meta.network, sizeof(meta.network), "%s", ep->network);
		snprintf(meta.netns, sizeof(meta.netns), "%s", ep->netns);
		meta.netns_cookie = ep->netns_cookie;
		meta.net_id = ep->net_id;
		meta.ep_id = ep->ep_id;
		meta.loc = SHUNT_LOC_NETNS;
		memcpy(meta.mac, ep->mac, 6);
		meta.has_mac = ep->has_mac;
		meta.naddrs = ep->naddrs;
		memcpy(meta.addrs, ep->addrs, sizeof(meta.addrs));
		if (bpf_map_update_elem(c->endpoints_fd, &mk, &meta, BPF_ANY))
			goto fail;
	}
	return 0;
fail:
	if (errno == E2BIG || errno == ENOMEM)
		return shunt_set_error(errno, "endpoint maps full");
	return shunt_set_error(errno, "endpoint map update: %s", strerror(errno));
}

/*
 * Two generations of the table live in the maps; BPF reads cfg.gen once per
 * connection and looks up only that generation.  Writing the idle generation
 * and then flipping cfg.gen makes a replacement atomic for every new
 * connection: it sees the old table or the new one, never a mix.  A crash
 * halfway leaves stale idle-generation entries, which the next write purges.
 */
int shunt_ep_write(struct shunt_ctx *c, struct ep_table *t)
{
	struct shunt_cfg cfg;
	__u32 zero = 0, next;
	int err;

	err = ep_table_validate(t);
	if (err)
		return shunt_set_error(err, "%s", ep_strerror());
	for (int i = 0; i < t->n; i++) {
		if (t->eps[i].netns_cookie)
			continue;
		err = shunt_netns_cookie(t->eps[i].netns, &t->eps[i].netns_cookie);
		if (err)
			return shunt_set_error(err, "endpoint \"%s\": %s", t->eps[i].name, shunt_strerror());
	}
	/* BPF finds a socket's endpoint by (netns, address): that pair must be
	 * unique across networks too, or the lookup would be ambiguous. */
	for (int i = 0; i < t->n; i++)
		for (int j = 0; j < i; j++)
			for (int a = 0; a < t->eps[i].naddrs; a++)
				for (int b = 0; b < t->eps[j].naddrs; b++) {
					char buf[64];

					if (t->eps[i].netns_cookie != t->eps[j].netns_cookie ||
					    !addr_equal(&t->eps[i].addrs[a], &t->eps[j].addrs[b]))
						continue;
					addr_format(&t->eps[i].addrs[a], buf, sizeof(buf));
					return shunt_set_error(EEXIST, "endpoint \"%s\": address %s in that netns already belongs to endpoint \"%s\" (network \"%s\")",
							       t->eps[i].name, buf, t->eps[j].name, t->eps[j].network);
				}
	ep_table_assign_ids(t);

	err = get_cfg(c, &cfg);
	if (err)
		return err;
	next = !cfg.gen;
	purge_gen(c, next);
	err = write_gen(c, t, next);
	if (err) {
		purge_gen(c, next);
		return err;
	}
	cfg.gen = next;
	if (bpf_map_update_elem(c->cfg_fd, &zero, &cfg, BPF_ANY)) {
		err = shunt_set_error(errno, "update shunt_cfg: %s", strerror(errno));
		purge_gen(c, next);
		return err;
	}
	purge_gen(c, !next);
	return 0;
}

/* --- status --------------------------------------------------------- */

int shunt_status_read(struct shunt_ctx *c, struct shunt_status *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct shunt_sock_key k, nk, *prev = NULL;
	char path[PATH_MAX], cgmnt[PATH_MAX];
	struct bpf_map_info info = {};
	struct shunt_conn conn;
	struct shunt_cfg cfg;
	struct ep_table t;
	struct dirent *de;
	__u32 info_len;
	__u64 *vals;
	int err, fd;
	DIR *d;

	memset(s, 0, sizeof(*s));
	err = get_cfg(c, &cfg);
	if (err)
		return err;
	s->gen = cfg.gen;
	s->paused = cfg.flags & SHUNT_CFG_PAUSED;

	err = shunt_ep_read(c, &t);
	if (err)
		return err;
	s->endpoints = t.n;
	ep_table_free(&t);

	vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	if (!vals)
		return shunt_set_error(ENOMEM, "out of memory");
	for (__u32 i = 0; i < SHUNT_ST_MAX; i++) {
		if (bpf_map_lookup_elem(c->stats_fd, &i, vals))
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			s->stats[i] += vals[cpu];
	}
	free(vals);

	/* The limits this instance was loaded with. */
	info_len = sizeof(info);
	if (!bpf_obj_get_info_by_fd(c->sockhash_fd, &info, &info_len))
		s->max_sockets = info.max_entries;
	s->rx_hook = -1;
	fd = open_pinned(c->pin_dir, "progs", "shunt_msg");
	if (fd >= 0) {
		__u64 rx;

		pinned_rodata_u64(fd, "fc_bound", &s->fc_bound);
		if (!pinned_rodata_u64(fd, "rx_hook", &rx))
			s->rx_hook = rx;
		close(fd);
	}
	for (size_t i = 0; i < sizeof(rx_links) / sizeof(rx_links[0]); i++) {
		snprintf(path, sizeof(path), "%s/links/%s", c->pin_dir, rx_links[i]);
		if (!access(path, F_OK))
			s->rx_links++;
	}

	while (!bpf_map_get_next_key(c->sockhash_fd, prev, &nk)) {
		k = nk;
		prev = &k;
		s->sockets++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(c->conns_fd, prev, &nk)) {
		k = nk;
		prev = &k;
		if (!bpf_map_lookup_elem(c->conns_fd, &k, &conn) &&
		    (conn.state & (SHUNT_CONN_RX_A | SHUNT_CONN_RX_P)))
			s->conns_redir++;
	}

	cgroup2_mount(cgmnt, sizeof(cgmnt));
	snprintf(path, sizeof(path), "%s/links", c->pin_dir);
	d = opendir(path);
	while (d && (de = readdir(d)) && s->nlinks < (int)(sizeof(s->links) / sizeof(s->links[0]))) {
		struct shunt_link_info *l = &s->links[s->nlinks];
		unsigned long long id;

		if (sscanf(de->d_name, "cg_%llu", &id) != 1)
			continue;
		l->cgroup_id = id;
		if (!cgmnt[0] || !find_cgroup(cgmnt, id, l->path, sizeof(l->path), 0))
			l->path[0] = 0;
		s->nlinks++;
	}
	if (d)
		closedir(d);
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup v2 attachment: the pinned sock_ops and setsockopt links per cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "internal.h"

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
	{ "cgc4", BPF_CGROUP_INET4_CONNECT },
	{ "cgc6", BPF_CGROUP_INET6_CONNECT },
	{ "cgpn4", BPF_CGROUP_INET4_GETPEERNAME },
	{ "cgpn6", BPF_CGROUP_INET6_GETPEERNAME },
};

static int cg_prog_fd(struct shunt_ctx *c, size_t i)
{
	int fds[] = { c->sockops_fd, c->setsockopt_fd, c->connect4_fd, c->connect6_fd,
		      c->getpeername4_fd, c->getpeername6_fd };

	return fds[i];
}

static bool id_attached(struct shunt_ctx *c, __u64 id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/links/cg_%llu", c->pin_dir, (unsigned long long)id);
	return !access(path, F_OK);
}

/* Is a cgroup below @dir attached?  Its path in @out. */
static bool below_attached(struct shunt_ctx *c, const char *dir, char *out, size_t len,
			   int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (depth > 32 || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!stat(path, &st) && id_attached(c, st.st_ino)) {
			snprintf(out, len, "%s", path);
			found = true;
		} else {
			found = below_attached(c, path, out, len, depth + 1);
		}
	}
	closedir(d);
	return found;
}

int shunt_cgroup_covered(struct shunt_ctx *c, const char *cgroup, char *via, size_t len)
{
	char up[PATH_MAX], mnt[PATH_MAX];
	struct stat st;
	char *slash;

	if (!realpath(cgroup, up))
		return 0;
	shunt_cgroup2_mount(mnt, sizeof(mnt));
	for (int level = 1;; level = 2) {
		if (!stat(up, &st) && id_attached(c, st.st_ino)) {
			snprintf(via, len, "%s", up);
			return level;
		}
		/* Above the mount's root, inode numbers are not cgroup ids. */
		if ((mnt[0] && !strcmp(up, mnt)) || !(slash = strrchr(up, '/')) || slash == up)
			return 0;
		*slash = 0;
	}
}

/*
 * cgroup-bpf runs the programs of every level from a socket's cgroup up to
 * the root (BPF_F_ALLOW_MULTI, which links use), so a socket below two
 * attached cgroups would run shunt_sockops twice: two insertions, counters
 * counted twice.  Rather than make every callback idempotent, nesting is
 * refused, both ways.
 */
static int check_nesting(struct shunt_ctx *c, const char *cgroup)
{
	char real[PATH_MAX], up[PATH_MAX], found[PATH_MAX];

	if (!realpath(cgroup, real))
		return shunt_set_error(errno, "cgroup %s: %s", cgroup, strerror(errno));
	/* Called for a cgroup not attached itself: a hit is an ancestor. */
	if (shunt_cgroup_covered(c, real, up, sizeof(up)))
		return shunt_set_error(EEXIST, "cgroup %s is below %s, which is attached: its sockets already run shunt",
				       cgroup, up);
	if (below_attached(c, real, found, sizeof(found), 0))
		return shunt_set_error(ENOTEMPTY, "cgroup %s holds %s, which is attached: detach it first (shunt would run twice for its sockets)",
				       cgroup, found);
	return 0;
}

/* All links or none: a half attach is undone. */
int shunt_attach(struct shunt_ctx *c, const char *cgroup, __u64 *idp)
{
	char path[PATH_MAX];
	size_t i, done = 0;
	int cg, link, err = 0;
	__u64 id;

	cg = open_cgroup(cgroup, &id);
	if (cg < 0)
		return cg;
	if (idp)
		*idp = id;
	if (!id_attached(c, id)) {
		err = check_nesting(c, cgroup);
		if (err) {
			close(cg);
			return err;
		}
	}
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

/* Unpins the links of cgroup @id: how many there were, or -errno. */
static int unpin_id(struct shunt_ctx *c, __u64 id)
{
	char path[PATH_MAX];
	int found = 0;

	for (size_t i = 0; i < sizeof(cg_progs) / sizeof(cg_progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/links/%s_%llu", c->pin_dir,
			 cg_progs[i].pin, (unsigned long long)id);
		if (!unlink(path))
			found++;
		else if (errno != ENOENT)
			return shunt_set_error(errno, "unpin %s: %s", path, strerror(errno));
	}
	return found;
}

int shunt_detach(struct shunt_ctx *c, const char *cgroup)
{
	int cg, found;
	__u64 id;

	cg = open_cgroup(cgroup, &id);
	if (cg < 0)
		return cg;
	close(cg);
	found = unpin_id(c, id);
	if (found < 0)
		return found;
	if (!found)
		return shunt_set_error(ENOENT, "%s is not attached", cgroup);
	return 0;
}

int shunt_detach_id(struct shunt_ctx *c, __u64 id)
{
	int found = unpin_id(c, id);

	return found < 0 ? found : 0;
}

/*
 * When a cgroup is removed, the kernel auto-detaches its links
 * (cgroup_bpf_release: the link stays, pointing at no cgroup, and its info
 * reports cgroup_id 0), but their pins remain.  Those, and pins whose
 * cgroup id is not found under the cgroup2 mount, are collected.
 */
int shunt_links_gc(struct shunt_ctx *c)
{
	char path[PATH_MAX], mnt[PATH_MAX], where[PATH_MAX];
	struct dirent *de;
	int n = 0, err;
	DIR *d;

	shunt_cgroup2_mount(mnt, sizeof(mnt));
	snprintf(path, sizeof(path), "%s/links", c->pin_dir);
	d = opendir(path);
	if (!d)
		return shunt_set_error(errno, "%s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		unsigned long long id;
		bool gone;
		int fd;

		if (sscanf(de->d_name, "cg_%llu", &id) != 1)
			continue;
		fd = shunt_pin_open(c->pin_dir, "links", de->d_name);
		if (fd < 0)
			continue;
		gone = !bpf_obj_get_info_by_fd(fd, &info, &len) && !info.cgroup.cgroup_id;
		close(fd);
		if (!gone && mnt[0])
			gone = !shunt_find_cgroup(mnt, id, where, sizeof(where), 0);
		if (!gone)
			continue;
		err = unpin_id(c, id);
		if (err > 0)
			n++;
	}
	closedir(d);
	return n;
}

int shunt_cgroup_of_pid(int pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 8], mnt[PATH_MAX];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return shunt_set_error(errno == ENOENT ? ESRCH : errno, "process %d: %s", pid,
				       errno == ENOENT ? "no such process" : strerror(errno));
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		found = true;
	}
	fclose(f);
	if (!found)
		return shunt_set_error(ENOENT, "process %d is in no cgroup v2 (no \"0::\" line in %s)", pid, path);
	shunt_cgroup2_mount(mnt, sizeof(mnt));
	if (!mnt[0])
		return shunt_set_error(ENOENT, "no cgroup2 mount in /proc/mounts");
	if (snprintf(out, len, "%s%s", mnt, line + 3) >= (int)len)
		return shunt_set_error(ENAMETOOLONG, "cgroup path of process %d too long", pid);
	return 0;
}

/* Finds the path of cgroup @id below @dir (depth-first, bounded). */
bool shunt_find_cgroup(const char *dir, __u64 id, char *out, size_t len, int depth)
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
			found = shunt_find_cgroup(path, id, out, len, depth + 1);
		}
	}
	closedir(d);
	return found;
}

void shunt_cgroup2_mount(char *out, size_t len)
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

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup v2 attachment: the pinned sock_ops and setsockopt links per cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
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

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bpffs: the mount, the pin directory tree, pinned objects by name. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "internal.h"

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The pin dir's parent must be on bpffs; mount /sys/fs/bpf if it is not. */
int shunt_ensure_bpffs(const char *pin_dir)
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



void shunt_rm_tree(const char *dir)
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
			shunt_rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}


int shunt_pin_open(const char *pin_dir, const char *kind, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, kind, name);
	return bpf_obj_get(path);
}

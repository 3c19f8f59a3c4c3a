/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the running kernel offers shunt, probed the way bpftool's `feature
 * probe` does (load a minimal program or map and see): `shunt load` uses it
 * to refuse a kernel that lacks a required part in one line, and to pick the
 * read counter; `shunt features` prints it; tests skip on it.
 */
#ifndef SHUNT_FEATURE_H
#define SHUNT_FEATURE_H

#include <stdbool.h>
#include <linux/types.h>

/* (Not "features.h": user/lib is on the include path, glibc has one.) */
#define SHUNT_MAX_FEATURES 24

struct shunt_feature {
	const char *name;	/* what it is, e.g. "sk_msg program" */
	const char *since;	/* minimum kernel, from kernel history */
	const char *need;	/* what needs it, or what its absence costs */
	bool required;		/* shunt load refuses the kernel without it */
	int err;		/* 0: present; else -errno of the probe */
};

struct shunt_features {
	int n;
	struct shunt_feature f[SHUNT_MAX_FEATURES];
	__u32 rx_hook;		/* enum shunt_rx_hook: the read counter chosen */
	char rx_why[256];	/* the choice in words, for status and load */
};

/*
 * Probes the kernel; never fails (a failed probe is an absent feature).
 * @full: also what `shunt load` does not need: the behaviour probes (a
 * loopback connection in the caller's netns through a sockmap), and the
 * fexit alternative where the tracepoint exists.
 */
void shunt_features_probe(struct shunt_features *out, bool full);
/* 0, or -ENOTSUP with the first missing required feature in shunt_strerror(). */
int shunt_features_require(const struct shunt_features *f);
const char *shunt_rx_hook_name(__u32 rx_hook);
/* 0 if this kernel loads a BPF iterator program (bpf_iter over sk storage). */
int shunt_probe_iter(void);

#endif

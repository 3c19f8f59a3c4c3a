/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a running (pinned) instance was built and loaded with, read from the
 * kernel by BTF: used by `load --upgrade` to refuse a map layout change and
 * to keep the load-time settings.
 */
#ifndef SHUNT_PINNED_H
#define SHUNT_PINNED_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct btf;
struct bpf_map;

/*
 * Does the pinned map @fd have the layout @map (opened, not loaded) expects:
 * same type, flags, key and value sizes and, where both carry BTF, the same
 * key and value types (member names, offsets and sizes, recursively)?
 * On a mismatch writes the first difference to @why.
 */
bool pinned_map_compatible(int fd, const struct bpf_map *map, const struct btf *btf,
			   char *why, size_t len);

/* Reads @len bytes of the global @var of the .rodata map used by program
 * @prog_fd (found by the map's BTF, as `bpftool map dump` shows it). */
int pinned_rodata(int prog_fd, const char *var, void *out, size_t len);
int pinned_rodata_u64(int prog_fd, const char *var, __u64 *out);

#endif

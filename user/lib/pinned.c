// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading a running instance back through the kernel's BTF, the way bpftool
 * does for `map dump` (its .rodata is shown by variable): libbpf's
 * bpf_map__reuse_fd() adopts a pinned map's sizes without comparing them
 * with what the new object was compiled for, so an upgrade checks layouts
 * itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "pinned.h"

#define MAX_DEPTH 8

static const char *type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *n = btf__name_by_offset(btf, t->name_off);

	return n && *n ? n : "(anon)";
}

/* Same shape: kinds, sizes, member names and offsets, element counts. */
static bool same_type(const struct btf *a, __u32 ia, const struct btf *b, __u32 ib,
		      int depth, char *why, size_t len)
{
	const struct btf_type *ta, *tb;
	__u16 i, n;

	if (depth > MAX_DEPTH)
		return true;
	ta = btf__type_by_id(a, btf__resolve_type(a, ia));
	tb = btf__type_by_id(b, btf__resolve_type(b, ib));
	if (!ta || !tb) {
		snprintf(why, len, "type not found in BTF");
		return false;
	}
	if (btf_kind(ta) != btf_kind(tb)) {
		snprintf(why, len, "%s changed kind", type_name(a, ta));
		return false;
	}
	switch (btf_kind(ta)) {
	case BTF_KIND_PTR:
		return true;
	case BTF_KIND_INT:
		if (ta->size != tb->size || btf_int_encoding(ta) != btf_int_encoding(tb) ||
		    btf_int_bits(ta) != btf_int_bits(tb)) {
			snprintf(why, len, "integer %s changed", type_name(a, ta));
			return false;
		}
		return true;
	case BTF_KIND_ARRAY:
		if (btf_array(ta)->nelems != btf_array(tb)->nelems) {
			snprintf(why, len, "array length %u became %u",
				 btf_array(ta)->nelems, btf_array(tb)->nelems);
			return false;
		}
		return same_type(a, btf_array(ta)->type, b, btf_array(tb)->type,
				 depth + 1, why, len);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		n = btf_vlen(ta);
		if (ta->size != tb->size || n != btf_vlen(tb)) {
			snprintf(why, len, "%s: %u bytes, %u members became %u bytes, %u members",
				 type_name(a, ta), ta->size, n, tb->size, btf_vlen(tb));
			return false;
		}
		for (i = 0; i < n; i++) {
			const struct btf_member *ma = btf_members(ta) + i, *mb = btf_members(tb) + i;
			const char *na = btf__name_by_offset(a, ma->name_off);
			const char *nb = btf__name_by_offset(b, mb->name_off);

			if (strcmp(na ? na : "", nb ? nb : "") ||
			    btf_member_bit_offset(ta, i) != btf_member_bit_offset(tb, i) ||
			    btf_member_bitfield_size(ta, i) != btf_member_bitfield_size(tb, i)) {
				snprintf(why, len, "%s: member %u (%s) became %s or moved",
					 type_name(a, ta), i, na ? na : "", nb ? nb : "");
				return false;
			}
			if (!same_type(a, ma->type, b, mb->type, depth + 1, why, len))
				return false;
		}
		return true;
	default:
		if (btf__resolve_size(a, ia) != btf__resolve_size(b, ib)) {
			snprintf(why, len, "%s changed size", type_name(a, ta));
			return false;
		}
		return true;
	}
}

bool pinned_map_compatible(int fd, const struct bpf_map *map, const struct btf *btf,
			   char *why, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	struct btf *old;
	bool ok = true;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		snprintf(why, len, "cannot read the pinned map: %s", strerror(errno));
		return false;
	}
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map)) {
		snprintf(why, len, "type/key/value size %u/%u/%u, the new object has %u/%u/%u",
			 info.type, info.key_size, info.value_size, bpf_map__type(map),
			 bpf_map__key_size(map), bpf_map__value_size(map));
		return false;
	}
	if (!info.btf_id || !btf)
		return true;
	old = btf__load_from_kernel_by_id(info.btf_id);
	if (!old) {
		snprintf(why, len, "cannot read the pinned map's BTF: %s", strerror(errno));
		return false;
	}
	if (info.btf_key_type_id && bpf_map__btf_key_type_id(map))
		ok = same_type(old, info.btf_key_type_id, btf, bpf_map__btf_key_type_id(map),
			       0, why, len);
	if (ok && info.btf_value_type_id && bpf_map__btf_value_type_id(map))
		ok = same_type(old, info.btf_value_type_id, btf, bpf_map__btf_value_type_id(map),
			       0, why, len);
	btf__free(old);
	return ok;
}

/* Offset of the 8-byte variable @var in the DATASEC @sec, or -1. */
static long datasec_offset(const struct btf *btf, __u32 sec, const char *var, size_t len)
{
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *vs;
	__u16 i;

	if (!t || !btf_is_datasec(t))
		return -1;
	vs = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++) {
		const struct btf_type *v = btf__type_by_id(btf, vs[i].type);

		if (v && vs[i].size == len &&
		    !strcmp(btf__name_by_offset(btf, v->name_off), var))
			return vs[i].offset;
	}
	return -1;
}

int pinned_rodata(int prog_fd, const char *var, void *out, size_t len)
{
	struct bpf_prog_info pinfo = {};
	__u32 ids[32], plen = sizeof(pinfo), zero = 0, i;
	int err = -ENOENT;

	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pinfo, &plen))
		return -errno;
	if (pinfo.nr_map_ids > sizeof(ids) / sizeof(ids[0]))
		pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	for (i = 0; i < pinfo.nr_map_ids && err == -ENOENT; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		struct btf *btf = NULL;
		char *val = NULL;
		long off = -1;
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && strstr(mi.name, ".rodata") &&
		    mi.btf_id && mi.btf_value_type_id)
			btf = btf__load_from_kernel_by_id(mi.btf_id);
		if (btf)
			off = datasec_offset(btf, mi.btf_value_type_id, var, len);
		if (off >= 0 && off + len <= mi.value_size &&
		    (val = calloc(1, mi.value_size))) {
			err = bpf_map_lookup_elem(fd, &zero, val) ? -errno : 0;
			if (!err)
				memcpy(out, val + off, len);
		}
		free(val);
		btf__free(btf);
		close(fd);
	}
	return err;
}

int pinned_rodata_u64(int prog_fd, const char *var, __u64 *out)
{
	return pinned_rodata(prog_fd, var, out, sizeof(*out));
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Feature probe of the running kernel (bpftool feature probe's method:
 * libbpf_probe_bpf_{prog,map}_type and _helper load a minimal program or
 * map).  Minimum kernels below come from kernel history; README's
 * Requirements table says which were measured in QEMU guests.
 *
 * The read counter is the one choice with alternatives (shunt.bpf.c,
 * on_read): the tracepoint sock_recv_length (6.3+), else fexit on
 * inet_recvmsg and inet6_recvmsg, probed by loading and attaching an empty
 * fexit program to each (some kernels refuse trampolines: this project's
 * reference host answers EPERM), else none, and then no connection is
 * redirected (a redirected socket could never leave the sockhash safely).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "feature.h"
#include "loader.h"
#include "shunt/shunt.h"

const char *shunt_rx_hook_name(__u32 rx_hook)
{
	switch (rx_hook) {
	case SHUNT_RX_TP:
		return "tracepoint";
	case SHUNT_RX_FEXIT:
		return "fexit";
	default:
		return "none";
	}
}

/* libbpf's probes answer 1 (yes), 0 (no) or -errno: make that 0 or -errno. */
static int probe_rc(int rc)
{
	if (rc == 1)
		return 0;
	return rc < 0 ? rc : -ENOTSUP;
}

static int probe_btf_type(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name(btf, name);
	btf__free(btf);
	return id > 0 ? 0 : -ENOENT;
}

/* Load and attach `r0 = 0; exit` as fexit of @func, then drop both. */
static int probe_fexit(const char *func)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *btf = btf__load_vmlinux_btf();
	int id, fd, link, err = 0;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	btf__free(btf);
	if (id <= 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = id);
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "shunt_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &o);
	if (fd < 0)
		return -errno;
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link < 0)
		err = -errno;
	else
		close(link);
	close(fd);
	return err;
}

static void add(struct shunt_features *out, const char *name, const char *since,
		const char *need, bool required, int err)
{
	struct shunt_feature *f;

	if (out->n >= SHUNT_MAX_FEATURES)
		return;
	f = &out->f[out->n++];
	f->name = name;
	f->since = since;
	f->need = need;
	f->required = required;
	f->err = err;
}

static void helper(struct shunt_features *out, const char *name, const char *since,
		   enum bpf_prog_type type, enum bpf_func_id id)
{
	add(out, name, since, "redirect", true, probe_rc(libbpf_probe_bpf_helper(type, id, NULL)));
}

void shunt_features_probe(struct shunt_features *out)
{
	int tp, fx4, fx6;

	memset(out, 0, sizeof(*out));
	add(out, "kernel BTF", "5.4", "CO-RE, BTF maps", true,
	    access("/sys/kernel/btf/vmlinux", R_OK) ? -errno : 0);
	add(out, "sockhash map", "4.18", "redirect", true,
	    probe_rc(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SOCKHASH, NULL)));
	add(out, "socket storage map", "5.2", "redirect", true,
	    probe_rc(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL)));
	add(out, "sock_ops program", "4.13", "classify connections", true,
	    probe_rc(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL)));
	add(out, "sk_msg program", "4.17", "redirect", true,
	    probe_rc(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_MSG, NULL)));
	add(out, "cgroup sockopt program", "5.3", "SO_RCVLOWAT, SO_RCVBUF", true,
	    probe_rc(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCKOPT, NULL)));
	helper(out, "sock_ops: bpf_get_netns_cookie", "5.15", BPF_PROG_TYPE_SOCK_OPS,
	       BPF_FUNC_get_netns_cookie);
	helper(out, "sock_ops: bpf_sk_storage_get", "5.2", BPF_PROG_TYPE_SOCK_OPS,
	       BPF_FUNC_sk_storage_get);
	helper(out, "sock_ops: bpf_sock_hash_update", "4.18", BPF_PROG_TYPE_SOCK_OPS,
	       BPF_FUNC_sock_hash_update);
	helper(out, "sk_msg: bpf_msg_redirect_hash", "4.18", BPF_PROG_TYPE_SK_MSG,
	       BPF_FUNC_msg_redirect_hash);
	helper(out, "sk_msg: bpf_sk_storage_get", "5.15", BPF_PROG_TYPE_SK_MSG,
	       BPF_FUNC_sk_storage_get);
	helper(out, "sk_msg: bpf_skc_to_tcp_sock", "5.15", BPF_PROG_TYPE_SK_MSG,
	       BPF_FUNC_skc_to_tcp_sock);

	tp = probe_btf_type("btf_trace_sock_recv_length");
	add(out, "tracepoint sock_recv_length", "6.3", "read counter (1st choice)", false, tp);
	fx4 = probe_fexit("inet_recvmsg");
	fx6 = probe_fexit("inet6_recvmsg");
	add(out, "fexit on inet_recvmsg", "5.5", "read counter (2nd choice)", false, fx4);
	add(out, "fexit on inet6_recvmsg", "5.5", "read counter (2nd choice)", false, fx6);

	if (!tp) {
		out->rx_hook = SHUNT_RX_TP;
		snprintf(out->rx_why, sizeof(out->rx_why), "tracepoint sock_recv_length");
	} else if (!fx4 && !fx6) {
		out->rx_hook = SHUNT_RX_FEXIT;
		snprintf(out->rx_why, sizeof(out->rx_why),
			 "fexit on inet_recvmsg and inet6_recvmsg (no sock_recv_length tracepoint before 6.3)");
	} else {
		out->rx_hook = SHUNT_RX_NONE;
		snprintf(out->rx_why, sizeof(out->rx_why),
			 "none: no sock_recv_length tracepoint (6.3+) and fexit on inet%s_recvmsg refused (%s); connections stay on TCP",
			 fx4 ? "" : "6", strerror(-(fx4 ? fx4 : fx6)));
	}
}

int shunt_features_require(const struct shunt_features *f)
{
	for (int i = 0; i < f->n; i++)
		if (f->f[i].required && f->f[i].err)
			return shunt_set_error(ENOTSUP, "kernel lacks %s (%s+), which shunt needs: %s",
					       f->f[i].name, f->f[i].since, strerror(-f->f[i].err));
	return 0;
}

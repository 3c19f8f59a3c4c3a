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
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/sockios.h>
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

static int probe_btf_type(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name(btf, name) > 0 ? 0 : -ENOENT;
}

/* 0 if struct @type's member @member is a plain field, -EOPNOTSUPP if a bitfield. */
static int probe_plain_member(const struct btf *btf, const char *type, const char *member)
{
	const struct btf_member *m;
	const struct btf_type *t;
	int id, err = -ENOENT;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	m = t ? btf_members(t) : NULL;
	for (int i = 0; t && i < btf_vlen(t); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), member))
			continue;
		err = btf_member_bitfield_size(t, i) ? -EOPNOTSUPP : 0;
		break;
	}
	return err;
}

/* Load and attach `r0 = 0; exit` as fexit of @func, then drop both. */
static int probe_fexit(const struct btf *btf, const char *func)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int id, fd, link, err = 0;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
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

/* Load `r0 = 0; exit` as a BPF iterator over socket storage (bpf_iter). */
int shunt_probe_iter(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *btf = btf__load_vmlinux_btf();
	int id, fd;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, "bpf_iter_bpf_sk_storage_map", BTF_KIND_FUNC);
	btf__free(btf);
	if (id <= 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_ITER,
		    .attach_btf_id = id);
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "shunt_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &o);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * Behaviour probe: does FIONREAD count what a redirect queued, and what TCP
 * queued while the socket is in a sockmap?  A loopback pair in the caller's
 * netns, both in a two-slot sockmap whose sk_msg verdict redirects A's
 * messages into B's ingress (BPF_F_INGRESS, as shunt does), except messages
 * of 999 bytes, which pass to TCP.  The ioctl's sockmap handling has been
 * fixed twice in stable kernels ("bpf, sockmap: Fix FIONREAD for sockmap",
 * 6.12.75; "Account for receive queue in FIONREAD", 6.12.114); which
 * applies is seen here, not guessed from a version.
 * Writes 0 (counts), -EOPNOTSUPP (misses the bytes) or another -errno.
 */
static void probe_fionread(int *redir, int *tcp)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1 },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_1,
		  .off = offsetof(struct sk_msg_md, size) },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 7, .imm = 999 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .src_reg = BPF_PSEUDO_MAP_FD },
		{ 0 },	/* second half of the 64-bit map fd load */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = 1 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = BPF_F_INGRESS },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_msg_redirect_map },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int map = -1, prog = -1, ls = -1, a = -1, b = -1, n, one = 1;
	char buf[1000] = { 0 };
	struct pollfd pfd;
	__u32 k;

	*redir = *tcp = -ENOTSUP;
	map = bpf_map_create(BPF_MAP_TYPE_SOCKMAP, "shunt_probe", 4, 4, 2, NULL);
	if (map < 0)
		goto out;
	insns[4].imm = map;
	prog = bpf_prog_load(BPF_PROG_TYPE_SK_MSG, "shunt_probe", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
	if (prog < 0 || bpf_prog_attach(prog, map, BPF_SK_MSG_VERDICT, 0))
		goto out;
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || a < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&sa, &len) ||
	    connect(a, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	b = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	setsockopt(a, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	k = 0;
	if (b < 0 || bpf_map_update_elem(map, &k, &a, BPF_ANY))
		goto out;
	k = 1;
	if (bpf_map_update_elem(map, &k, &b, BPF_ANY))
		goto out;
	pfd = (struct pollfd){ .fd = b, .events = POLLIN };
	if (send(a, buf, 1000, 0) != 1000 || poll(&pfd, 1, 2000) != 1 || ioctl(b, FIONREAD, &n))
		goto out;
	*redir = n == 1000 ? 0 : -EOPNOTSUPP;
	if (recv(b, buf, sizeof(buf), MSG_DONTWAIT) != 1000)
		goto out;
	/* TCP delivers asynchronously (softirq): wait until it all arrived. */
	if (send(a, buf, 999, 0) != 999)
		goto out;
	for (int i = 0; i < 200 && poll(&pfd, 1, 10) >= 0; i++) {
		if (recv(b, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) == 999)
			break;
	}
	if (!ioctl(b, FIONREAD, &n))
		*tcp = n == 999 ? 0 : -EOPNOTSUPP;
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (ls >= 0)
		close(ls);
	if (prog >= 0)
		close(prog);
	if (map >= 0)
		close(map);
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

void shunt_features_probe(struct shunt_features *out, bool full)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int tp, fx4 = -ENOENT, fx6 = -ENOENT, fr, ft;

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

	if (full) {
		probe_fionread(&fr, &ft);
		add(out, "FIONREAD counts redirected bytes", "6.12.75",
		    "ioctl(FIONREAD) (README, Limitations)", false, fr);
		add(out, "FIONREAD counts TCP bytes in sockmap", "6.12.114",
		    "ioctl(FIONREAD) during a detour", false, ft);
	}

	if (full)
		add(out, "BPF iterator over socket storage", "5.9",
		    "none: shunt conns walks shunt_conns either way", false, shunt_probe_iter());
	add(out, "sock.sk_userlocks a plain u8", "6.9", "none: CO-RE reads it as a bitfield before",
	    false, probe_plain_member(btf, "sock", "sk_userlocks"));
	tp = probe_btf_type(btf, "btf_trace_sock_recv_length");
	add(out, "tracepoint sock_recv_length", "6.3", "read counter (1st choice)", false, tp);
	/* `shunt load` attaches the trampolines only where it may use them. */
	if (full || tp) {
		fx4 = probe_fexit(btf, "inet_recvmsg");
		fx6 = probe_fexit(btf, "inet6_recvmsg");
		add(out, "fexit on inet_recvmsg", "5.5", "read counter (2nd choice)", false, fx4);
		add(out, "fexit on inet6_recvmsg", "5.5", "read counter (2nd choice)", false, fx6);
	}
	btf__free(btf);

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

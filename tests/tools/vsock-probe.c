// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vsock-probe: the user-space half of tests/integ/t_vsock_probe.sh, which
 * asks what this kernel's sockmap can do with AF_VSOCK stream sockets
 * (vsock_loopback, CID 1).  Commands:
 *
 *   transport          exit 0 if a vsock stream connection to CID 1 works,
 *                      else 77 with the reason on stderr
 *   insert             a connected vsock socket (and, as a control, a TCP
 *                      one) into a new SOCKMAP and SOCKHASH from user space;
 *                      prints "sockmap=yes|ERRNO sockhash=yes|ERRNO"
 *   pattern SIZE       SIZE bytes of the test pattern on stdout
 *   redir OBJ DIR MODE SIZE OUT
 *                      DIR tcp2vsock|vsock2tcp, MODE egress|ingress.  Loads
 *                      OBJ (vsock_probe.bpf.o), attaches its verdict program
 *                      (BPF_SK_SKB_VERDICT) to src_map, puts the receiving
 *                      end of the source connection in src_map[0] and one end
 *                      of the target connection in dst_map[0].  Writes SIZE
 *                      pattern bytes into the source connection and stores
 *                      whatever comes out where the redirect should deliver
 *                      it (egress: the target's peer; ingress: the target
 *                      itself) in OUT.  Prints one key=value line.
 *
 * TCP runs over 127.0.0.1 (the caller picks the network namespace).  Exit:
 * 0 the probe ran (the caller judges the data), 1 the probe broke, 2 usage,
 * 77 no vsock transport.  Everything it makes dies with the process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

enum { ST_PASS, ST_DROP, ST_PASS_BYTES, ST_DROP_BYTES, ST_MAX };

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static void die(const char *what)
{
	fprintf(stderr, "vsock-probe: %s: %s (%s)\n", what, strerror(errno), ename(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The pattern: xorshift64* words, little endian, from a fixed seed. */
static void pattern_fill(uint8_t *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t w = x * 0x2545f4914f6cdd1dull;

		for (size_t j = 0; j < 8 && i + j < len; j++)
			buf[i + j] = (uint8_t)(w >> (8 * j));
	}
}

/* vsock_pair: a connected vsock stream pair over CID 1; returns 0 or -errno
 * (what failed in *what). */
static int vsock_pair(int *cli, int *srv, const char **what)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = VMADDR_PORT_ANY };
	socklen_t al = sizeof(a);
	int l, c, s, e;

	*what = "socket(AF_VSOCK, SOCK_STREAM)";
	l = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	*what = "bind(VMADDR_CID_ANY)";
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto err_l;
	*what = "listen";
	if (listen(l, 4) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
		goto err_l;
	*what = "socket(AF_VSOCK) for connect";
	c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		goto err_l;
	a.svm_cid = VMADDR_CID_LOCAL;
	*what = "connect(CID 1)";
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto err_c;
	*what = "accept";
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto err_c;
	close(l);
	*cli = c;
	*srv = s;
	return 0;
err_c:
	e = errno;
	close(c);
	errno = e;
err_l:
	e = errno;
	close(l);
	return -e;
}

static void tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		die("tcp listen on 127.0.0.1");
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("tcp connect");
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		die("tcp accept");
	close(l);
	*cli = c;
	*srv = s;
}

static int cmd_transport(void)
{
	const char *what;
	int c, s, r = vsock_pair(&c, &s, &what);

	if (r < 0) {
		fprintf(stderr, "%s: %s (%s)\n", what, strerror(-r), ename(-r));
		return 77;
	}
	close(c);
	close(s);
	return 0;
}

/* try_insert TYPE FD: "yes" or the errno name of a user-space update. */
static const char *try_insert(enum bpf_map_type type, int fd)
{
	static char buf[2][32];
	static int n;
	char *b = buf[n++ & 1];
	__u32 key = 0;
	__u64 val = fd;
	int m = bpf_map_create(type, NULL, sizeof(key), sizeof(val), 1, NULL);

	if (m < 0)
		die(type == BPF_MAP_TYPE_SOCKMAP ? "create sockmap" : "create sockhash");
	if (bpf_map_update_elem(m, &key, &val, BPF_ANY) == 0)
		snprintf(b, 32, "yes");
	else
		snprintf(b, 32, "%s", ename(errno));
	close(m);
	return b;
}

static int cmd_insert(void)
{
	const char *what, *tm, *th;
	int c, s, tc, ts, r = vsock_pair(&c, &s, &what);

	if (r < 0) {
		fprintf(stderr, "%s: %s (%s)\n", what, strerror(-r), ename(-r));
		return 77;
	}
	tcp_pair(&tc, &ts);
	tm = try_insert(BPF_MAP_TYPE_SOCKMAP, tc);
	th = try_insert(BPF_MAP_TYPE_SOCKHASH, tc);
	if (strcmp(tm, "yes") || strcmp(th, "yes")) {
		fprintf(stderr, "vsock-probe: control failed: TCP into sockmap %s, sockhash %s\n", tm, th);
		return 1;
	}
	printf("sockmap=%s", try_insert(BPF_MAP_TYPE_SOCKMAP, c));
	printf(" sockhash=%s", try_insert(BPF_MAP_TYPE_SOCKHASH, c));
	printf(" tcp_control=yes\n");
	return 0;
}

static int cmd_pattern(size_t size)
{
	uint8_t *b = malloc(size ? size : 1);

	if (!b)
		die("malloc");
	pattern_fill(b, size);
	if (fwrite(b, 1, size, stdout) != size)
		die("write pattern");
	free(b);
	return 0;
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t size;
	double deadline;
	atomic_size_t written;
	atomic_int done, err;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	while (off < w->size && now() < w->deadline) {
		struct pollfd p = { .fd = w->fd, .events = POLLOUT };

		if (poll(&p, 1, 100) <= 0)
			continue;
		size_t chunk = w->size - off < 65536 ? w->size - off : 65536;
		ssize_t n = send(w->fd, w->buf + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			w->err = errno;
			break;
		}
		off += n;
		w->written = off;
	}
	w->done = 1;
	return NULL;
}

static int setflag_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int cmd_redir(const char *obj_path, const char *dir, const char *mode, size_t size,
		     const char *out)
{
	int vc, vs, tc, ts, sw, sr, dm, dr, src_map, dst_map, cfg, stats, prog, r;
	double idle = getenv("VSOCK_PROBE_IDLE") ? atof(getenv("VSOCK_PROBE_IDLE")) : 5.0;
	const char *what, *ins_src = "yes", *ins_dst = "yes";
	struct bpf_object *obj;
	struct bpf_program *p;
	bool to_vsock = !strcmp(dir, "tcp2vsock"), ingress = !strcmp(mode, "ingress");
	__u64 flags = ingress ? BPF_F_INGRESS : 0, st[ST_MAX] = { 0 }, val;
	__u32 key = 0;
	size_t cap = size + 65536, got = 0, leak = 0;
	uint8_t *exp = malloc(size ? size : 1), *rx = malloc(cap), junk[4096];
	struct writer w = { 0 };
	pthread_t th;
	FILE *f;

	if ((!to_vsock && strcmp(dir, "vsock2tcp")) || (!ingress && strcmp(mode, "egress")))
		return 2;
	if (!exp || !rx)
		die("malloc");
	pattern_fill(exp, size);
	r = vsock_pair(&vc, &vs, &what);
	if (r < 0) {
		fprintf(stderr, "%s: %s (%s)\n", what, strerror(-r), ename(-r));
		return 77;
	}
	tcp_pair(&tc, &ts);
	/* sw writes; sr receives it and runs the verdict; dm is the target;
	 * dr reads where the redirect delivers. */
	if (to_vsock) {
		sw = tc, sr = ts, dm = vc, dr = ingress ? vc : vs;
	} else {
		sw = vc, sr = vs, dm = tc, dr = ingress ? tc : ts;
	}

	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj || libbpf_get_error(obj))
		die("open bpf object");
	if (bpf_object__load(obj))
		die("load bpf object");
	p = bpf_object__find_program_by_name(obj, "vsock_probe_verdict");
	if (!p)
		die("no program vsock_probe_verdict");
	prog = bpf_program__fd(p);
	src_map = bpf_object__find_map_fd_by_name(obj, "src_map");
	dst_map = bpf_object__find_map_fd_by_name(obj, "dst_map");
	cfg = bpf_object__find_map_fd_by_name(obj, "cfg");
	stats = bpf_object__find_map_fd_by_name(obj, "stats");
	if (src_map < 0 || dst_map < 0 || cfg < 0 || stats < 0)
		die("maps missing in the object");
	if (bpf_map_update_elem(cfg, &key, &flags, BPF_ANY))
		die("set flags");
	if (bpf_prog_attach(prog, src_map, BPF_SK_SKB_VERDICT, 0))
		die("attach BPF_SK_SKB_VERDICT to src_map");

	val = sr;
	if (bpf_map_update_elem(src_map, &key, &val, BPF_ANY))
		ins_src = ename(errno);
	val = dm;
	if (bpf_map_update_elem(dst_map, &key, &val, BPF_ANY))
		ins_dst = ename(errno);
	if (strcmp(ins_src, "yes") || strcmp(ins_dst, "yes")) {
		printf("insert_src=%s insert_dst=%s written=0 received=0 pass=0 drop=0 pass_bytes=0 drop_bytes=0 src_leak=0 writer_err=none\n",
		       ins_src, ins_dst);
		return 0;
	}

	setflag_nonblock(dr);
	setflag_nonblock(sr);
	w.fd = sw;
	w.buf = exp;
	w.size = size;
	w.deadline = now() + 120;
	if (pthread_create(&th, NULL, writer_main, &w))
		die("pthread_create");

	double last = now(), end = now() + 180;

	for (;;) {
		struct pollfd pf = { .fd = dr, .events = POLLIN };
		double t = now();

		if (t > end)
			break;
		/* Stop idle seconds after the last byte once the writer is done
		 * (or stuck), or 0.5 s after the whole size arrived. */
		if (got >= size && t - last > 0.5)
			break;
		if (t - last > idle && (w.done || t - last > 2 * idle))
			break;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t n = recv(dr, rx + got, cap - got, 0);

		if (n > 0) {
			got += n;
			last = now();
			if (got >= cap)
				break;
		} else if (n == 0) {
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "vsock-probe: recv on the target: %s\n", strerror(errno));
			break;
		}
	}
	w.deadline = 0;
	pthread_join(th, NULL);
	/* Did anything stay on the source socket instead? */
	for (;;) {
		ssize_t n = recv(sr, junk, sizeof(junk), MSG_DONTWAIT);

		if (n <= 0)
			break;
		leak += n;
	}
	for (__u32 i = 0; i < ST_MAX; i++)
		if (bpf_map_lookup_elem(stats, &i, &st[i]))
			die("read stats");

	f = fopen(out, "w");
	if (!f || fwrite(rx, 1, got, f) != got || fclose(f))
		die("write output file");
	printf("insert_src=yes insert_dst=yes written=%zu received=%zu pass=%llu drop=%llu pass_bytes=%llu drop_bytes=%llu src_leak=%zu writer_err=%s\n",
	       (size_t)w.written, got, (unsigned long long)st[ST_PASS], (unsigned long long)st[ST_DROP],
	       (unsigned long long)st[ST_PASS_BYTES], (unsigned long long)st[ST_DROP_BYTES], leak,
	       w.err ? ename(w.err) : "none");
	bpf_prog_detach2(prog, src_map, BPF_SK_SKB_VERDICT);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "transport"))
		return cmd_transport();
	if (argc == 2 && !strcmp(argv[1], "insert"))
		return cmd_insert();
	if (argc == 3 && !strcmp(argv[1], "pattern"))
		return cmd_pattern(strtoul(argv[2], NULL, 0));
	if (argc == 7 && !strcmp(argv[1], "redir"))
		return cmd_redir(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 0), argv[6]);
	fprintf(stderr, "usage: vsock-probe transport | insert | pattern SIZE |\n"
			"       redir OBJ tcp2vsock|vsock2tcp egress|ingress SIZE OUTFILE\n");
	return 2;
}

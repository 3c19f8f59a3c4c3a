// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt-bench: load generator and meter comparing transports between the
 * processes of one host: TCP over veth or loopback, Unix stream sockets and
 * TCP redirected by shunt.  Server and client take the same -m and -s:
 *
 *   pingpong  One connection: the client writes SIZE bytes (default 64), the
 *             server reads them all and writes them back.  Round trips after
 *             the warm-up are timed; up to 10M times are kept and sorted for
 *             nearest-rank percentiles.
 *   rr        The same on -c connections, one client thread each.
 *   stream    -c connections write SIZE bytes (default 64K) at a time for -d
 *             seconds, then shut down; the server reads to EOF (256K reads)
 *             and replies with its byte count (8 bytes, big endian), which
 *             must match.  No warm-up: the rate is bytes received over the
 *             time from the start until the last count arrives.
 *   msgrate   stream with SIZE default 64, reported as messages/s.
 *   connrate  -c threads loop: connect, write a byte, read it back, close.
 *             TCP clients close with SO_LINGER {1, 0}: RST instead of
 *             TIME_WAIT, so a run cannot exhaust the ephemeral ports.  The
 *             server answers inline in one accepting thread per CPU; other
 *             modes get a server thread per connection.
 *
 * The server prints "ready" once listening and serves until SIGTERM, SIGINT
 * or -T seconds.  The client prints one line on stdout, one of:
 *
 *   mode=pingpong size=64 ops=N ops_per_s=X p50_us=X p99_us=X mean_us=X
 *   mode=rr conns=C size=64 ops=N ops_per_s=X p50_us=X p99_us=X
 *   mode=stream conns=C size=65536 bytes=N gbit_per_s=X mb_per_s=X
 *   mode=msgrate conns=C size=64 msgs_per_s=X mb_per_s=X
 *   mode=connrate conns=C ops=N ops_per_s=X
 *
 * ops counts operations started after the warm-up and before the end; rates
 * divide by the time from the end of the warm-up to the last completion.
 * MB is 10^6 bytes, Gbit 10^9 bits.  Errors print one "shunt-bench:" line on
 * stderr and exit 1, as does a client still running 4 s after warm-up plus
 * duration; usage errors exit 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES	10000000
#define MAX_CONNS	4096
#define MAX_SIZE	(64 << 20)
#define MAX_SECS	1e6
#define MAX_ACCEPTORS	64
#define SINK_BUF	(256 * 1024)
#define STACK_SIZE	(256 * 1024)
#define BACKLOG		4096
#define GRACE		4.0	/* client: seconds allowed past warm-up + run */
#define PEER_TIMEOUT	5	/* server, connrate: seconds a peer may stall */

enum mode { M_NONE, M_PINGPONG, M_RR, M_STREAM, M_MSGRATE, M_CONNRATE };

static const char *const mode_names[] = {
	NULL, "pingpong", "rr", "stream", "msgrate", "connrate",
};

static struct {
	bool server, quiet;
	int nodelay;		/* -1 until set: the mode's default */
	enum mode mode;
	const char *endpoint;
	const char *path;	/* unix socket path, NULL for TCP */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	double dur, warm, life, conns, size;	/* size 0: the mode's default */
} opt = {
	.nodelay = -1, .dur = 3, .warm = 0.5, .conns = 1,
};

/* One client connection (connrate: one thread of connections). */
struct worker {
	pthread_t tid;
	unsigned int idx;
	int fd;
	const char *what;	/* the step that failed */
	uint64_t ops;		/* round trips or cycles after the warm-up */
	uint64_t sent, count;	/* stream: bytes written, bytes the server got */
	double sum;		/* seconds spent in the counted round trips */
	double done;		/* last completion (stream: count arrival) */
	uint32_t *lat;		/* round-trip times in ns */
	size_t nlat, max;
	char *buf;
} __attribute__((aligned(64)));

static pthread_attr_t tattr;
static pthread_barrier_t ready, go;
static double t_warm, t_end;
static size_t size, conns;
static atomic_flag dying = ATOMIC_FLAG_INIT;
static const char *unlink_path;	/* server: the unix socket it bound */

/* One line on stderr (one fprintf, so lines of threads do not mix). */
#define msg(fmt, ...) fprintf(stderr, "shunt-bench: " fmt "\n", ##__VA_ARGS__)

/* Print one line and exit 1; later callers wait for the first to exit. */
#define die(fmt, ...) do {						\
	while (atomic_flag_test_and_set(&dying))			\
		pause();						\
	msg(fmt, ##__VA_ARGS__);					\
	cleanup_exit(1);						\
} while (0)

static __attribute__((noreturn)) void cleanup_exit(int code)
{
	if (unlink_path)
		unlink(unlink_path);
	_exit(code);
}

static void on_alarm(int sig)
{
	static const char m[] =
		"shunt-bench: timeout: the server stalled or did not answer\n";

	(void)sig;
	if (atomic_flag_test_and_set(&dying))
		return;
	(void)!write(STDERR_FILENO, m, sizeof(m) - 1);
	_exit(1);
}

static const char *errstr(int err)
{
	return err == -ENODATA ? "connection closed by peer" : strerror(-err);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Write all of @buf: 0 or -errno. */
static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read exactly @len bytes: 0, -ENODATA at EOF, or -errno. */
static int read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ENODATA;
		p += n;
		len -= n;
	}
	return 0;
}

static int sock_setup(int fd)
{
	int one = 1;

	if (!opt.path && opt.nodelay &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	return 0;
}

/* A connected socket, or -errno. */
static int sock_connect(void)
{
	int fd, err;

	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = sock_setup(fd);
	if (!err && connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen))
		err = -errno;
	if (err)
		close(fd);
	return err ? err : fd;
}

/* ---- client ---- */

static int fail(struct worker *w, const char *what, int err)
{
	w->what = what;
	return err;
}

static int run_pingpong(struct worker *w)
{
	double t1, t2;
	int err;

	while ((t1 = now()) < t_end) {
		err = write_full(w->fd, w->buf, size);
		if (err)
			return fail(w, "write", err);
		err = read_exact(w->fd, w->buf, size);
		if (err)
			return fail(w, "read", err);
		t2 = now();
		if (t1 < t_warm)
			continue;
		w->ops++;
		w->sum += t2 - t1;
		w->done = t2;
		if (w->nlat < w->max)	/* ns, saturated at 4.29 s */
			w->lat[w->nlat++] = fmin((t2 - t1) * 1e9, UINT32_MAX);
	}
	return 0;
}

static int run_stream(struct worker *w)
{
	uint64_t count;
	int err;

	while (now() < t_end) {
		err = write_full(w->fd, w->buf, size);
		if (err)
			return fail(w, "write", err);
		w->sent += size;
	}
	if (shutdown(w->fd, SHUT_WR))
		return fail(w, "shutdown", -errno);
	err = read_exact(w->fd, &count, sizeof(count));
	if (err)
		return fail(w, "read count", err);
	w->done = now();
	w->count = be64toh(count);
	return 0;
}

/* connect, echo a byte, close with RST (TCP) so no TIME_WAIT is left. */
static int run_connrate(struct worker *w)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	char c = 'x';
	int fd, err = 0;
	double t1;

	while (!err && (t1 = now()) < t_end) {
		fd = sock_connect();
		if (fd < 0)
			return fail(w, "connect", fd);
		if ((err = write_full(fd, &c, 1)))
			fail(w, "write", err);
		else if ((err = read_exact(fd, &c, 1)))
			fail(w, "read", err);
		else if (!opt.path &&
			 setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)))
			err = fail(w, "SO_LINGER", -errno);
		close(fd);
		if (!err && t1 >= t_warm) {
			w->ops++;
			w->done = now();
		}
	}
	return err;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int err;

	if (opt.mode != M_CONNRATE && (w->fd = sock_connect()) < 0)
		die("conn %u: connect to %s: %s", w->idx, opt.endpoint,
		    errstr(w->fd));
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);	/* main has set the times */
	if (opt.mode == M_CONNRATE)
		err = run_connrate(w);
	else if (opt.mode == M_STREAM || opt.mode == M_MSGRATE)
		err = run_stream(w);
	else
		err = run_pingpong(w);
	if (err)
		die("conn %u: %s: %s", w->idx, w->what, errstr(err));
	if (w->fd >= 0)
		close(w->fd);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Merge and sort the kept round-trip times for nearest-rank percentiles. */
static void report_rtt(struct worker *ws, uint64_t ops, double secs)
{
	double sum = 0, p50, p99;
	size_t i, k, n = 0;
	uint32_t *v;

	for (i = 0; i < conns; i++) {
		n += ws[i].nlat;
		sum += ws[i].sum;
	}
	if (!ops || !n)
		die("no round trips completed after the warm-up");
	if (n < ops && !opt.quiet)
		msg("kept %zu of %llu round-trip times for the percentiles",
		    n, (unsigned long long)ops);
	v = malloc(n * sizeof(*v));
	if (!v)
		die("out of memory for %zu round-trip times", n);
	for (i = 0, k = 0; i < conns; k += ws[i].nlat, i++)
		memcpy(v + k, ws[i].lat, ws[i].nlat * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u32);
	p50 = v[(size_t)ceil(0.50 * n) - 1] / 1e3;
	p99 = v[(size_t)ceil(0.99 * n) - 1] / 1e3;
	if (opt.mode == M_PINGPONG)
		printf("mode=pingpong size=%zu ops=%llu ops_per_s=%.1f p50_us=%.2f p99_us=%.2f mean_us=%.2f\n",
		       size, (unsigned long long)ops, ops / secs, p50, p99,
		       sum / ops * 1e6);
	else
		printf("mode=rr conns=%zu size=%zu ops=%llu ops_per_s=%.1f p50_us=%.2f p99_us=%.2f\n",
		       conns, size, (unsigned long long)ops, ops / secs, p50,
		       p99);
	free(v);
}

static void report(struct worker *ws)
{
	uint64_t ops = 0, bytes = 0;
	double last = t_end, secs;
	size_t i;

	for (i = 0; i < conns; i++) {
		if (ws[i].count != ws[i].sent)
			die("conn %zu: server got %llu bytes, client sent %llu",
			    i, (unsigned long long)ws[i].count,
			    (unsigned long long)ws[i].sent);
		ops += ws[i].ops;
		bytes += ws[i].count;
		last = fmax(last, ws[i].done);
	}
	secs = last - t_warm;
	if (opt.mode == M_STREAM)
		printf("mode=stream conns=%zu size=%zu bytes=%llu gbit_per_s=%.3f mb_per_s=%.1f\n",
		       conns, size, (unsigned long long)bytes,
		       bytes * 8 / secs / 1e9, bytes / secs / 1e6);
	else if (opt.mode == M_MSGRATE)
		printf("mode=msgrate conns=%zu size=%zu msgs_per_s=%.1f mb_per_s=%.1f\n",
		       conns, size, bytes / size / secs, bytes / secs / 1e6);
	else if (opt.mode == M_CONNRATE)
		printf("mode=connrate conns=%zu ops=%llu ops_per_s=%.1f\n",
		       conns, (unsigned long long)ops, ops / secs);
	else
		report_rtt(ws, ops, secs);
}

static struct worker *workers_alloc(void)
{
	bool rtt = opt.mode == M_PINGPONG || opt.mode == M_RR;
	struct worker *ws, *w;

	ws = aligned_alloc(64, conns * sizeof(*ws));
	if (!ws)
		return NULL;
	memset(ws, 0, conns * sizeof(*ws));
	for (w = ws; w < ws + conns; w++) {
		w->idx = w - ws;
		w->fd = -1;
		w->max = rtt ? MAX_SAMPLES / conns : 0;
		/* untouched pages cost nothing, so no growing in the loop */
		w->lat = w->max ? malloc(w->max * sizeof(*w->lat)) : NULL;
		w->buf = opt.mode != M_CONNRATE ? malloc(size) : NULL;
		if ((w->max && !w->lat) || (opt.mode != M_CONNRATE && !w->buf))
			return NULL;
		if (w->buf)
			memset(w->buf, 'x', size);
	}
	return ws;
}

static void client(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };
	struct worker *ws = workers_alloc();
	double limit;
	size_t i;
	int err;

	if (!ws)
		die("out of memory for %zu connections", conns);
	if (opt.mode == M_STREAM || opt.mode == M_MSGRATE)
		opt.warm = 0;
	limit = opt.warm + opt.dur + GRACE;
	it.it_value.tv_sec = limit;
	it.it_value.tv_usec = (limit - floor(limit)) * 1e6;
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_barrier_init(&ready, NULL, conns + 1);
	pthread_barrier_init(&go, NULL, conns + 1);
	for (i = 0; i < conns; i++) {
		err = pthread_create(&ws[i].tid, &tattr, worker_main, &ws[i]);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	pthread_barrier_wait(&ready);
	t_warm = now() + opt.warm;
	t_end = t_warm + opt.dur;
	pthread_barrier_wait(&go);
	for (i = 0; i < conns; i++)
		pthread_join(ws[i].tid, NULL);
	it.it_value.tv_sec = it.it_value.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	report(ws);
	for (i = 0; i < conns; i++) {
		free(ws[i].lat);
		free(ws[i].buf);
	}
	free(ws);
}

/* ---- server ---- */

/* pingpong, rr: read SIZE bytes, write them back, until EOF. */
static int srv_echo(int fd, char *buf)
{
	int err;

	while (!(err = read_exact(fd, buf, size)))
		if ((err = write_full(fd, buf, size)))
			return err;
	return err == -ENODATA ? 0 : err;
}

/* stream, msgrate: read to EOF, then send the byte count. */
static int srv_sink(int fd, char *buf)
{
	uint64_t count = 0;
	ssize_t n;

	while ((n = recv(fd, buf, SINK_BUF, 0)) != 0) {
		if (n < 0 && errno != EINTR)
			return -errno;
		count += n > 0 ? n : 0;
	}
	count = htobe64(count);
	return write_full(fd, &count, sizeof(count));
}

/* connrate: echo one byte; a stalled peer times out. */
static int srv_once(int fd)
{
	struct timeval tv = { .tv_sec = PEER_TIMEOUT };
	char c;
	int err;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	err = read_exact(fd, &c, 1);
	return err ? err : write_full(fd, &c, 1);
}

static void *srv_conn(void *arg)
{
	bool sink = opt.mode == M_STREAM || opt.mode == M_MSGRATE;
	int fd = (intptr_t)arg, err = sock_setup(fd);
	char *buf = NULL;

	if (!err && opt.mode == M_CONNRATE)
		err = srv_once(fd);
	else if (!err && !(buf = malloc(sink ? SINK_BUF : size)))
		err = -ENOMEM;
	else if (!err)
		err = sink ? srv_sink(fd, buf) : srv_echo(fd, buf);
	if (err && !opt.quiet)
		msg("connection fd %d: %s", fd, errstr(err));
	free(buf);
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (intptr_t)arg, fd, err;
	pthread_t tid;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
			       errno == ENOBUFS || errno == ENOMEM)) {
			if (!opt.quiet)
				msg("accept: %s", strerror(errno));
			usleep(10000);
		} else if (fd < 0 && errno != EINTR && errno != ECONNABORTED &&
			   errno != EPROTO) {
			die("accept: %s", strerror(errno));
		} else if (fd >= 0 && opt.mode == M_CONNRATE) {
			srv_conn((void *)(intptr_t)fd);
		} else if (fd >= 0 && (err = pthread_create(&tid, &tattr, srv_conn,
						       (void *)(intptr_t)fd))) {
			if (!opt.quiet)
				msg("pthread_create: %s", strerror(err));
			close(fd);
		}
	}
	return NULL;
}

/* A listening socket, or -errno.  A stale unix socket is removed first. */
static int srv_listen(void)
{
	int fd, one = 1, err = 0;
	struct stat st;

	if (opt.path && !lstat(opt.path, &st) &&
	    (!S_ISSOCK(st.st_mode) || unlink(opt.path)))
		return S_ISSOCK(st.st_mode) ? -errno : -EEXIST;
	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!opt.path &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		err = -errno;
	if (!err && bind(fd, (struct sockaddr *)&opt.addr, opt.addrlen))
		err = -errno;
	if (!err)
		unlink_path = opt.path;
	if (!err && listen(fd, BACKLOG))
		err = -errno;
	if (err)
		close(fd);
	return err ? err : fd;
}

static void server(void)
{
	struct timespec ts, *tsp = NULL;
	double end = now() + opt.life;
	long i, n = 1;
	pthread_t tid;
	sigset_t set;
	int lfd, err;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* inherited by threads */
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	lfd = srv_listen();
	if (lfd < 0)
		die("listen on %s: %s", opt.endpoint, strerror(-lfd));
	if (opt.mode == M_CONNRATE)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	n = n < 1 ? 1 : n > MAX_ACCEPTORS ? MAX_ACCEPTORS : n;
	for (i = 0; i < n; i++) {
		err = pthread_create(&tid, &tattr, acceptor, (void *)(intptr_t)lfd);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (opt.life) {
			double left = fmax(end - now(), 0);

			ts.tv_sec = left;
			ts.tv_nsec = (left - ts.tv_sec) * 1e9;
			tsp = &ts;
		}
		if (sigtimedwait(&set, NULL, tsp) > 0 || errno == EAGAIN)
			break;
	}
	cleanup_exit(0);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs(
"usage: shunt-bench server -A ENDPOINT -m MODE [options]\n"
"       shunt-bench client -A ENDPOINT -m MODE [options]\n"
"The server serves until SIGTERM or SIGINT (or -T); the client measures and\n"
"prints one line of key=value pairs.\n"
"ENDPOINT  IPV4:PORT, [IPV6]:PORT or unix:PATH\n"
"MODE      pingpong  timed round trips of SIZE bytes on one connection\n"
"          rr        round trips on -c connections\n"
"          stream    SIZE-byte writes as fast as possible; bytes received/s\n"
"          msgrate   stream of small writes; messages received/s\n"
"          connrate  connect, echo one byte, close; cycles/s\n"
"options (give -m and -s the same on both sides):\n"
"  -d SECS   measured duration, default 3\n"
"  -w SECS   warm-up before measuring, default 0.5 (none in stream, msgrate)\n"
"  -c CONNS  client connections and threads, default 1 (pingpong: only 1)\n"
"  -s SIZE   message or write size, K and M suffixes allowed;\n"
"            default 64K for stream, 64 otherwise\n"
"  -N        set TCP_NODELAY (the default for pingpong and rr)\n"
"  -n        do not set TCP_NODELAY (the default for other modes)\n"
"  -T SECS   server: exit after SECS, default 0 (only on a signal)\n"
"  -q        quiet: no non-fatal diagnostics\n"
"  -h        show this help\n"
"exit: 0 ok, 1 error or timeout, 2 usage\n", f);
}

static int bad(const char *what, const char *arg)
{
	msg("bad %s%s%s", what, arg ? ": " : "", arg ? arg : "");
	return -EINVAL;
}

/* IPV4:PORT, [IPV6]:PORT (literals, by inet_pton only) or unix:PATH. */
static int parse_endpoint(const char *s)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&opt.addr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&opt.addr;
	struct sockaddr_un *sun = (struct sockaddr_un *)&opt.addr;
	char host[64], *port, *end;
	unsigned long p;

	memset(&opt.addr, 0, sizeof(opt.addr));
	opt.path = NULL;
	if (!strncmp(s, "unix:", 5)) {
		opt.path = s + 5;
		if (!*opt.path || strlen(opt.path) >= sizeof(sun->sun_path))
			return -EINVAL;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, opt.path);
		opt.addrlen = sizeof(*sun);
		return 0;
	}
	port = strlen(s) < sizeof(host) ? strrchr(strcpy(host, s), ':') : NULL;
	if (!port || port[1] < '0' || port[1] > '9')
		return -EINVAL;
	*port++ = '\0';
	p = strtoul(port, &end, 10);	/* overflow gives ULONG_MAX */
	if (*end || !p || p > 65535)
		return -EINVAL;
	if (host[0] == '[' && port[-2] == ']') {
		port[-2] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		opt.addrlen = sizeof(*sin6);
		return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(p);
	opt.addrlen = sizeof(*sin);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

/*
 * A decimal number in [@min, @max] into *@v: whole if @whole, which also
 * allows a K or M suffix (2^10, 2^20).
 */
static int parse_num(const char *s, double *v, double min, double max,
		     bool whole)
{
	char *end;
	double x;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	errno = 0;
	x = strtod(s, &end);
	if (whole && (*end == 'K' || *end == 'M'))
		x *= *end++ == 'K' ? 1 << 10 : 1 << 20;
	if (errno || *end || !(x >= min && x <= max) || (whole && x != floor(x)))
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_opt(int ch, const char *arg)
{
	static const struct {
		double *v, min, max;
		bool whole;
	} nums[128] = {
		['d'] = { &opt.dur, 1e-3, MAX_SECS, false },
		['w'] = { &opt.warm, 0, MAX_SECS, false },
		['T'] = { &opt.life, 0, MAX_SECS, false },
		['c'] = { &opt.conns, 1, MAX_CONNS, true },
		['s'] = { &opt.size, 1, MAX_SIZE, true },
	};
	char o[3] = { '-', ch == ':' || ch == '?' ? optopt : ch, '\0' };
	int m;

	if (ch > 0 && ch < 128 && nums[ch].v)
		return parse_num(arg, nums[ch].v, nums[ch].min, nums[ch].max,
				 nums[ch].whole) ? bad(o, arg) : 0;
	switch (ch) {
	case 'A':
		opt.endpoint = arg;
		return parse_endpoint(arg) ? bad("endpoint", arg) : 0;
	case 'm':
		opt.mode = M_NONE;
		for (m = M_PINGPONG; m <= M_CONNRATE; m++)
			if (!strcmp(arg, mode_names[m]))
				opt.mode = m;
		return opt.mode ? 0 : bad("mode", arg);
	case 'N':
	case 'n':
		opt.nodelay = ch == 'N';
		return 0;
	case 'q':
		opt.quiet = true;
		return 0;
	case ':':
		return bad("option, missing argument", o);
	default:
		return bad("option", o);
	}
}

static int parse_args(int argc, char **argv)
{
	int ch;

	if (argc == 2 && !strcmp(argv[1], "-h")) {
		usage(stdout);
		exit(0);
	}
	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		return bad("command, expected server or client", NULL);
	opt.server = argv[1][0] == 's';
	opterr = 0;
	while ((ch = getopt(argc - 1, argv + 1, ":A:m:d:w:T:c:s:Nnqh")) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_opt(ch, optarg))
			return -EINVAL;
	}
	if (optind != argc - 1)
		return bad("argument", argv[optind + 1]);
	if (!opt.endpoint || !opt.mode)
		return bad("command, -A and -m are required", NULL);
	if (opt.mode == M_PINGPONG && opt.conns != 1)
		return bad("-c, pingpong has one connection (see rr)", NULL);
	conns = opt.conns;
	size = opt.size ? opt.size : opt.mode == M_STREAM ? 64 << 10 : 64;
	if (opt.nodelay < 0)
		opt.nodelay = opt.mode == M_PINGPONG || opt.mode == M_RR;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &sa, NULL);
	pthread_attr_init(&tattr);
	pthread_attr_setstacksize(&tattr, STACK_SIZE);
	if (opt.server)
		server();
	else
		client();
	return 0;
}

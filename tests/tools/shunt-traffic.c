// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt-traffic: TCP traffic generator and verifier for shunt's integration
 * tests.  It proves that byte streams arrive intact, in order and exactly
 * once, and that connections end the way TCP says they should.  Both sides
 * take the same -m MODE:
 *
 *   records    Right after connect()/accept() each side writes R 64-byte
 *              records while it reads R: magic, id, direction, seq (u32,
 *              network order), 48 bytes derived from (id, direction, seq).
 *              The client's id is its connection index, the server's is
 *              random; readers learn it from the first record and check
 *              every field of every record.
 *   stream     Each side writes B pseudo-random bytes while it verifies
 *              every byte it reads, shuts down and expects EOF.  -1: client
 *              to server only.
 *   echo       The server echoes until EOF; the client verifies R records.
 *   halfclose  The client sends B bytes and shuts down; the server reads to
 *              EOF, replies with B bytes (-e: half before reading) and closes.
 *   peerclose  A runner writes until the connection ends, then prints
 *              "ended: eof|reset|epipe"; a stopper reads B bytes, then
 *              close()s, _exit(0)s (-k) or stalls until killed (-s).  The
 *              client runs and the server stops; -R swaps them.
 *
 * Streams start with the magic and the writer's id, then carry a splitmix64
 * word of (seed, id, direction, offset) per 8 bytes; -S SEED (the same on
 * both sides) varies all patterns.  Readers also hash what they get (FNV-1a
 * over 64-bit words).  Exit codes: 0 verified, 1 data, protocol or timeout
 * error, 2 usage, 3 a blocking socket returned EAGAIN (a kernel bug).  The
 * first error ends the process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC		0x53484e54u	/* "SHNT" */
#define REC_SIZE	64
#define RX_BUF		(64 * 1024)
#define INLINE_TX	(16 * 1024)	/* always fits in the socket buffers */
#define STACK_SIZE	(256 * 1024)
#define GOLDEN		0x9e3779b97f4a7c15ull
#define FNV_OFFSET	0xcbf29ce484222325ull
#define FNV_PRIME	0x100000001b3ull

enum mode { M_NONE, M_RECORDS, M_STREAM, M_ECHO, M_HALFCLOSE, M_PEERCLOSE };
enum end { E_NONE, E_EOF, E_RESET, E_EPIPE, E_ERROR };

static const char *const mode_names[] = {
	NULL, "records", "stream", "echo", "halfclose", "peerclose",
};
static const char *const end_names[] = { "none", "eof", "reset", "epipe", "error" };

static struct {
	bool server, quiet, oneway, early, kill, stall, reverse, nodelay, bindport;
	bool evented;	/* -E: nonblocking sockets driven by poll(), as servers do */
	enum mode mode;
	struct sockaddr_storage addr, bind;
	socklen_t addrlen, bindlen;
	uint64_t n, c, bytes, records, wsize, timeout, seed, delay;
} opt = {
	.n = 1, .c = 1, .bytes = 1 << 20, .records = 100, .wsize = 64 << 10,
	.timeout = 60,
};

/* One direction of one connection. */
struct dir {
	bool records;		/* record layout, else stream layout */
	bool known;		/* id (and so seed) is known */
	uint32_t d;		/* 0: client to server, 1: server to client */
	uint32_t id;		/* the writer's id */
	uint64_t seed;
	uint64_t off;		/* bytes written or verified */
	uint64_t limit;		/* bytes to write or to read */
	uint64_t fnv;
	uint8_t *buf, *exp;
	double secs;
};

struct conn {
	int fd;
	unsigned int idx;	/* client: connection index; server: accept order */
	bool tolerant;		/* peerclose runner: EOF, RST and EPIPE end it */
	_Atomic int end;	/* enum end, set once */
	double t0;
	struct dir tx, rx;
};

static pthread_attr_t tattr;
static atomic_uint_fast64_t tot_tx, tot_rx, next_conn;
static atomic_bool eagain_seen;
static sem_t conns_done;
static char alarm_msg[80];

static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	flockfile(stderr);
	fputs("shunt-traffic: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

static __attribute__((noreturn)) void bail(void)
{
	fflush(stdout);
	_exit(atomic_load(&eagain_seen) ? 3 : 1);
}

static void on_alarm(int sig)
{
	(void)sig;
	(void)!write(STDERR_FILENO, alarm_msg, strlen(alarm_msg));
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void dir_seed(struct dir *d, uint32_t id)
{
	d->id = id;
	d->seed = mix64(((uint64_t)d->d << 32 | id) ^ mix64(opt.seed + GOLDEN));
	d->known = true;
}

/*
 * Word @w (bytes 8w..8w+7) of a direction's pattern.  Both layouts start
 * with magic and id, so a reader learns the id the same way for both.
 */
static uint64_t pat_word(const struct dir *d, uint64_t w)
{
	uint64_t k = d->records ? w % (REC_SIZE / 8) : w;

	if (!k)
		return (uint64_t)MAGIC << 32 | d->id;
	if (d->records && k == 1)
		return (uint64_t)d->d << 32 | (uint32_t)(w / (REC_SIZE / 8));
	return mix64(d->seed + w * GOLDEN);
}

static void pat_fill(const struct dir *d, uint64_t off, uint8_t *p, size_t len)
{
	while (len) {
		uint64_t v = htobe64(pat_word(d, off / 8));
		size_t s = off % 8, n = len < 8 - s ? len : 8 - s;

		memcpy(p, (uint8_t *)&v + s, n);
		p += n;
		off += n;
		len -= n;
	}
}

static int io_err(const char *what)
{
	int err = -errno;

	if (err == -EAGAIN) {
		atomic_store(&eagain_seen, true);
		msg("%s: EAGAIN on a blocking socket", what);
	}
	return err;
}

/* -E: EAGAIN on a nonblocking socket means "wait for readiness". */
static bool wait_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	if (!opt.evented || errno != EAGAIN)
		return false;
	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	return true;
}

static ssize_t sock_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	while ((n = recv(fd, buf, len, 0)) < 0)
		if (errno != EINTR && !wait_ready(fd, POLLIN))
			return io_err("read");
	return n;
}

static int sock_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	for (; len; p += n, len -= n)
		while ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0)
			if (errno != EINTR && !wait_ready(fd, POLLOUT))
				return io_err("write");
	return 0;
}

/* Report a socket error, except the ones a peerclose runner expects. */
static int conn_err(struct conn *c, const char *what, int err)
{
	if (err != -EAGAIN &&	/* io_err() reported it */
	    !(c->tolerant && (err == -EPIPE || err == -ECONNRESET)))
		msg("conn %u: %s: %s", c->idx, what, strerror(-err));
	return err;
}

/*
 * A direction of @c ended with @err.  Errors are fatal, except that a runner
 * records how its connection ended (first one wins) and wakes its other
 * thread.
 */
static void conn_end(struct conn *c, int err)
{
	int none = E_NONE, e;

	if (!c->tolerant) {
		if (err)
			bail();
		return;
	}
	e = !err ? E_EOF : err == -ECONNRESET ? E_RESET :
	    err == -EPIPE ? E_EPIPE : E_ERROR;
	if (!atomic_compare_exchange_strong(&c->end, &none, e))
		return;
	if (e == E_ERROR)
		bail();
	shutdown(c->fd, SHUT_RDWR);
}

static int tx_run(struct conn *c, uint64_t to)
{
	struct dir *d = &c->tx;
	int err;

	while (d->off < to) {
		size_t n = to - d->off < opt.wsize ? to - d->off : opt.wsize;

		pat_fill(d, d->off, d->buf, n);
		err = sock_write(c->fd, d->buf, n);
		if (err)
			return conn_err(c, "write", err);
		d->off += n;
	}
	d->secs = now() - c->t0;
	return 0;
}

static void *tx_thread(void *arg)
{
	struct conn *c = arg;
	int err = tx_run(c, c->tx.limit);

	if (!err && shutdown(c->fd, SHUT_WR))
		err = conn_err(c, "shutdown", -errno);
	if (err)
		conn_end(c, err);
	return NULL;
}

/* Say where @p (@len bytes at rx.off, from a record boundary) went wrong. */
static int mismatch(struct conn *c, const uint8_t *p, size_t len)
{
	static const char *const fields[] = { "magic", "id", "direction", "seq" };
	struct dir *d = &c->rx;
	size_t i = 0, f;
	uint64_t o;
	unsigned int k;

	while (p[i] == d->exp[i])
		i++;
	o = d->off + i;
	k = o % REC_SIZE / 4;
	f = i - i % 4;
	if (!d->records)
		msg("conn %u: stream offset %llu: expected 0x%02x got 0x%02x",
		    c->idx, (unsigned long long)o, d->exp[i], p[i]);
	else if (k < 4 && f + 4 <= len)
		msg(k < 2 ? "conn %u: record %llu: expected %s %#x got %#x" :
			    "conn %u: record %llu: expected %s %u got %u",
		    c->idx, (unsigned long long)(o / REC_SIZE), fields[k],
		    get32(d->exp + f), get32(p + f));
	else
		msg("conn %u: record %llu: payload mismatch at byte %u",
		    c->idx, (unsigned long long)(o / REC_SIZE), (unsigned int)(o % REC_SIZE));
	return -EBADMSG;
}

/* Check @len received bytes at rx.off; the first ones tell the id. */
static int verify(struct conn *c, const uint8_t *p, size_t len)
{
	struct dir *d = &c->rx;
	uint64_t w;
	size_t i;

	if (!d->known) {
		uint8_t h[8] = { 0 };

		memcpy(h, p, len < 8 ? len : 8);
		dir_seed(d, get32(h + 4));
	}
	pat_fill(d, d->off, d->exp, len);
	if (memcmp(p, d->exp, len))
		return mismatch(c, p, len);
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		d->fnv = (d->fnv ^ le64toh(w)) * FNV_PRIME;
	}
	for (; i < len; i++)
		d->fnv = (d->fnv ^ p[i]) * FNV_PRIME;
	d->off += len;
	return 0;
}

/*
 * Read and verify rx.limit bytes in whole units (records, words), so that
 * chunks never split a field; then, if @want_eof, insist on EOF.
 */
static int rx_run(struct conn *c, bool want_eof)
{
	struct dir *d = &c->rx;
	size_t have = 0, unit = d->records ? REC_SIZE : 8, room, k;
	ssize_t n;
	int err;

	while (d->off + have < d->limit) {
		room = RX_BUF - have;
		if (room > d->limit - d->off - have)
			room = d->limit - d->off - have;
		n = sock_read(c->fd, d->buf + have, room);
		if (n < 0)
			return conn_err(c, "read", n);
		if (!n) {
			if (have && (err = verify(c, d->buf, have)))
				return err;
			msg("conn %u: EOF after %llu of %llu bytes", c->idx,
			    (unsigned long long)d->off, (unsigned long long)d->limit);
			return -ENODATA;
		}
		have += n;
		k = d->off + have == d->limit ? have : have - have % unit;
		if (k && (err = verify(c, d->buf, k)))
			return err;
		memmove(d->buf, d->buf + k, have - k);
		have -= k;
	}
	d->secs = now() - c->t0;
	if (!want_eof)
		return 0;
	n = sock_read(c->fd, d->buf, 1);
	if (n < 0)
		return conn_err(c, "read", n);
	if (n) {
		msg("conn %u: unexpected data after %llu bytes", c->idx,
		    (unsigned long long)d->off);
		return -EBADMSG;
	}
	return 0;
}

/* Start @fn(@arg) in a thread: joinable as *@t, or detached if !@t. */
static int spawn(void *(*fn)(void *), void *arg, pthread_t *t)
{
	pthread_t tmp;
	int err = pthread_create(t ? t : &tmp, &tattr, fn, arg);

	if (err)
		msg("pthread_create: %s", strerror(err));
	else if (!t)
		pthread_detach(tmp);
	return -err;
}

/* Write (in a thread, unless it is small) while reading; then expect EOF. */
static int duplex(struct conn *c)
{
	bool inline_tx = !c->tolerant && c->tx.limit <= INLINE_TX;
	pthread_t t;
	int err;

	if (opt.delay)	/* -D: let the peer speak first, or join the sockhash */
		usleep(opt.delay * 1000);
	if (inline_tx)
		tx_thread(c);
	else if ((err = spawn(tx_thread, c, &t)))
		return err;
	conn_end(c, rx_run(c, true));
	if (!inline_tx)
		pthread_join(t, NULL);
	return 0;
}

static int echo_server(struct conn *c)
{
	ssize_t n;
	int err;

	while ((n = sock_read(c->fd, c->rx.buf, RX_BUF)) > 0) {
		err = sock_write(c->fd, c->rx.buf, n);
		if (err)
			return conn_err(c, "write", err);
		c->rx.off += n;
		c->tx.off += n;
	}
	return n ? conn_err(c, "read", n) : 0;
}

static int halfclose_server(struct conn *c)
{
	int err = 0;

	if (opt.early)
		err = tx_run(c, c->tx.limit / 2);
	if (!err)
		err = rx_run(c, true);
	return err ? err : tx_run(c, c->tx.limit);
}

static int stopper(struct conn *c)
{
	int err = rx_run(c, false);

	if (err)
		return err;
	if (opt.kill)
		_exit(0);
	if (opt.stall) {
		printf("stalled\n");
		for (;;)
			pause();
	}
	return 0;
}

static int conn_run(struct conn *c)
{
	switch (opt.mode) {
	case M_ECHO:
		return opt.server ? echo_server(c) : duplex(c);
	case M_HALFCLOSE:
		return opt.server ? halfclose_server(c) : duplex(c);
	case M_PEERCLOSE:
		return c->tolerant ? duplex(c) : stopper(c);
	default:
		return duplex(c);
	}
}

/* Set up @c, zeroed but for fd and idx, for this side and mode. */
static int conn_init(struct conn *c)
{
	bool srv = opt.server, rec = opt.mode == M_RECORDS || opt.mode == M_ECHO;
	uint32_t id = c->idx;

	if (srv && getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = mix64(c->idx + (uint64_t)getpid() * GOLDEN);
	c->t0 = now();
	if (opt.nodelay &&
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)))
		return conn_err(c, "TCP_NODELAY", -errno);
	if (opt.evented &&
	    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK))
		return conn_err(c, "O_NONBLOCK", -errno);
	c->tx.records = c->rx.records = rec;
	c->tx.d = srv;
	c->rx.d = !srv;
	c->tx.limit = c->rx.limit = rec ? opt.records * REC_SIZE : opt.bytes;
	c->rx.fnv = FNV_OFFSET;
	if (opt.mode == M_STREAM && opt.oneway)
		(srv ? &c->tx : &c->rx)->limit = 0;
	if (opt.mode == M_ECHO && !srv) {
		c->rx.d = 0;
		dir_seed(&c->rx, id);
	}
	if (opt.mode == M_PEERCLOSE) {
		c->tolerant = srv == opt.reverse;
		if (c->tolerant)
			c->tx.limit = UINT64_MAX;
		(c->tolerant ? &c->rx : &c->tx)->limit = 0;
	}
	dir_seed(&c->tx, id);
	c->tx.buf = malloc(opt.wsize);
	c->rx.buf = malloc(RX_BUF);
	c->rx.exp = malloc(RX_BUF);
	if (c->tx.buf && c->rx.buf && c->rx.exp)
		return 0;
	msg("out of memory");
	return -ENOMEM;
}

static void report(struct conn *c)
{
	struct dir *t = &c->tx, *r = &c->rx;

	atomic_fetch_add(&tot_tx, t->off);
	atomic_fetch_add(&tot_rx, r->off);
	if (c->tolerant)
		printf("ended: %s\n", end_names[atomic_load(&c->end)]);
	if (opt.quiet)
		return;
	if (opt.mode == M_STREAM)
		fprintf(stderr, "conn %u: tx %.1f MB/s, rx %.1f MB/s\n", c->idx,
			t->secs > 0 ? t->off / t->secs / 1e6 : 0,
			r->secs > 0 ? r->off / r->secs / 1e6 : 0);
	printf("conn %u: sent %llu received %llu fnv 0x%016llx peer id 0x%08x\n",
	       c->idx, (unsigned long long)t->off, (unsigned long long)r->off,
	       (unsigned long long)r->fnv, r->id);
}

/* Run connection @c on its fd and close it; errors end the process. */
static void conn_handle(struct conn *c)
{
	if (conn_init(c) || conn_run(c))
		bail();
	close(c->fd);
	report(c);
	free(c->tx.buf);
	free(c->rx.buf);
	free(c->rx.exp);
	sem_post(&conns_done);
}

/* Returns a connected socket or -errno. */
static int client_connect(unsigned int idx)
{
	int fd, one = 1, err;
	const char *what = "socket";

	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* SO_REUSEADDR also lets a later listener bind over our TIME_WAITs. */
	what = "bind";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (opt.bindlen && !opt.bindport &&
	     setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one))) ||
	    (opt.bindlen && bind(fd, (struct sockaddr *)&opt.bind, opt.bindlen)))
		goto fail;
	what = "connect";
	if (!connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen))
		return fd;
fail:
	err = -errno;
	msg("conn %u: %s: %s", idx, what, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

static void *client_thread(void *arg)
{
	struct conn c;
	uint64_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_conn, 1)) < opt.n) {
		memset(&c, 0, sizeof(c));
		c.idx = i;
		c.fd = client_connect(i);
		if (c.fd < 0)
			bail();
		conn_handle(&c);
	}
	return NULL;
}

static int client(void)
{
	uint64_t i;
	int err;

	for (i = 0; i < opt.c; i++)
		if ((err = spawn(client_thread, NULL, NULL)))
			return err;
	return 0;
}

static void *server_thread(void *arg)
{
	conn_handle(arg);
	free(arg);
	return NULL;
}

static int server(void)
{
	int lfd, fd, one = 1, err;
	struct conn *c;
	uint64_t i;

	lfd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&opt.addr, opt.addrlen) ||
	    listen(lfd, 1024)) {
		err = -errno;
		msg("listen: %s", strerror(-err));
		return err;
	}
	printf("ready\n");
	for (i = 0; i < opt.n; i++) {
		while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EINTR && errno != ECONNABORTED) {
				err = -errno;
				msg("accept: %s", strerror(-err));
				return err;
			}
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			msg("out of memory");
			return -ENOMEM;
		}
		c->fd = fd;
		c->idx = i;
		if ((err = spawn(server_thread, c, NULL)))
			return err;
	}
	close(lfd);
	return 0;
}

static void usage(void)
{
	fputs(
"usage: shunt-traffic server|client -a ADDR -p PORT -m MODE [options]\n"
"  -a ADDR   IPv4 or IPv6 literal, or [IPv6] or [IPv6]:PORT (server: listen)\n"
"  -p PORT   port (unless given in -a)\n"
"  -m MODE   records | stream | echo | halfclose | peerclose\n"
"  -n N      connections to open (client) or to serve (server), default 1\n"
"  -c C      client threads, each running its share in turn, default 1\n"
"  -b BYTES  bytes per direction, K/M/G suffixes (1024-based), default 1M\n"
"  -r RECS   64-byte records per direction (records, echo), default 100\n"
"  -w SIZE   write size, default 64K\n"
"  -B ADDR   client source address\n"
"  -P PORT   client source port (with SO_REUSEADDR)\n"
"  -t SECS   overall timeout, 0 for none, default 60\n"
"  -S SEED   pattern seed, the same on both sides, default 0\n"
"  -N        set TCP_NODELAY\n"
"  -E        event-driven: nonblocking sockets, poll() on EAGAIN\n"
"  -D MS     wait MS milliseconds after connect (accept) before writing\n"
"  -q        quiet: no per-connection lines\n"
"  -1        stream: client to server only\n"
"  -e        halfclose: server sends half its reply before reading\n"
"  -k        peerclose: the stopper _exit(0)s after B bytes\n"
"  -s        peerclose: the stopper stalls after B bytes until killed\n"
"  -R        peerclose: the server writes, the client stops\n"
"exit: 0 verified, 1 error or timeout, 2 usage, 3 EAGAIN on a blocking socket\n",
	      stderr);
}

static int parse_num(const char *s, uint64_t *v)
{
	unsigned long long x;
	int shift = 0;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == 'K' || *end == 'M' || *end == 'G')
		shift = *end++ == 'K' ? 10 : end[-1] == 'M' ? 20 : 30;
	if (*end || x > (UINT64_MAX >> shift))
		return -EINVAL;
	*v = x << shift;
	return 0;
}

/* An IPv4 or IPv6 literal, "[IPv6]" or "[IPv6]:PORT"; else @port (or none). */
static int parse_addr(const char *s, const char *port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	const char *e = s[0] == '[' ? strchr(s, ']') : NULL;
	char host[INET6_ADDRSTRLEN];
	uint64_t p = 0;
	int n;

	if (e && e[1] == ':')
		port = e + 2;
	n = snprintf(host, sizeof(host), "%.*s", e ? (int)(e - s - 1) : 64,
		     e ? s + 1 : s);
	memset(ss, 0, sizeof(*ss));
	if (n >= (int)sizeof(host) || (e && e[1] && e[1] != ':') ||
	    (port && (parse_num(port, &p) || !p || p > 65535)))
		goto bad;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
	} else {
		goto bad;
	}
	return 0;
bad:
	msg("bad address or port: %s %s", s, port ? port : "");
	return -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static bool *const flags[128] = {
		['q'] = &opt.quiet, ['1'] = &opt.oneway, ['e'] = &opt.early,
		['k'] = &opt.kill, ['s'] = &opt.stall, ['R'] = &opt.reverse,
		['N'] = &opt.nodelay, ['E'] = &opt.evented,
	};
	static uint64_t *const nums[128] = {
		['n'] = &opt.n, ['c'] = &opt.c, ['b'] = &opt.bytes,
		['r'] = &opt.records, ['w'] = &opt.wsize, ['t'] = &opt.timeout,
		['S'] = &opt.seed, ['D'] = &opt.delay,
	};
	const char *arg[128] = { NULL }, *baddr;
	int ch, m;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		return -EINVAL;
	opt.server = argv[1][0] == 's';
	opterr = 0;
	while ((ch = getopt(argc - 1, argv + 1, "a:p:m:n:c:b:r:w:B:P:t:S:D:q1eksRNE")) != -1) {
		if (ch == '?' || (nums[ch] && parse_num(optarg, nums[ch])))
			return -EINVAL;
		if (flags[ch])
			*flags[ch] = true;
		arg[ch] = optarg;
	}
	for (m = M_RECORDS; m <= M_PEERCLOSE && arg['m']; m++)
		if (!strcmp(arg['m'], mode_names[m]))
			opt.mode = m;
	baddr = arg['B'];
	if (optind != argc - 1 || !arg['a'] || !opt.mode || !opt.n || !opt.c ||
	    opt.n > UINT32_MAX || opt.c > 65536 || !opt.wsize ||
	    opt.wsize > (64 << 20) || opt.records > UINT32_MAX ||
	    opt.timeout > UINT32_MAX ||
	    parse_addr(arg['a'], arg['p'], &opt.addr, &opt.addrlen))
		return -EINVAL;
	if (!((struct sockaddr_in *)&opt.addr)->sin_port) {
		msg("no port given");
		return -EINVAL;
	}
	if (baddr || arg['P']) {
		if (!baddr)
			baddr = opt.addr.ss_family == AF_INET6 ? "::" : "0.0.0.0";
		if (parse_addr(baddr, arg['P'], &opt.bind, &opt.bindlen))
			return -EINVAL;
		opt.bindport = ((struct sockaddr_in *)&opt.bind)->sin_port;
	}
	if (opt.c > opt.n)
		opt.c = opt.n;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	uint64_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv)) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &sa, NULL);
	snprintf(alarm_msg, sizeof(alarm_msg),
		 "shunt-traffic: timeout after %llu seconds\n",
		 (unsigned long long)opt.timeout);
	alarm(opt.timeout);
	sem_init(&conns_done, 0, 0);
	pthread_attr_init(&tattr);
	pthread_attr_setstacksize(&tattr, STACK_SIZE);
	if (opt.server ? server() : client())
		bail();
	for (i = 0; i < opt.n; i++)	/* conn_handle() posts */
		while (sem_wait(&conns_done))
			;
	printf("ok: %llu connections, %llu bytes sent, %llu bytes received\n",
	       (unsigned long long)opt.n, (unsigned long long)atomic_load(&tot_tx),
	       (unsigned long long)atomic_load(&tot_rx));
	return 0;
}

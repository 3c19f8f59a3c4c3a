// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt metrics: the instance in Prometheus text format (user/lib/metrics.c),
 * to stdout, to a file for node_exporter's textfile collector, or served on
 * /metrics with libmicrohttpd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "cli.h"
#include "log.h"
#include "metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The text for @pin_dir; NULL on ENOMEM.  *err: shunt_metrics_collect's. */
static char *collect(const char *pin_dir, size_t *len, int *err)
{
	struct shunt_metrics m;
	bool up;

	shunt_metrics_init(&m);
	*err = shunt_metrics_collect(&m, pin_dir, &up);
	if (m.oom) {
		shunt_metrics_free(&m);
		return NULL;
	}
	return shunt_metrics_take(&m, len);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/*
 * node_exporter's textfile collector may read the file at any moment: write
 * FILE.tmp.<pid> beside it (same filesystem, and a name the collector skips:
 * it reads only *.prom), fsync, rename over FILE, fsync the directory.  A
 * reader sees the old file or the new one, whole.
 */
static int write_atomic(const char *file, const char *text, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int fd, dfd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >= (int)sizeof(tmp))
		return shunt_set_error(ENAMETOOLONG, "%s: name too long", file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return shunt_set_error(errno, "%s: %s", tmp, strerror(errno));
	err = write_all(fd, text, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, file))
		err = -errno;
	if (err) {
		unlink(tmp);
		return shunt_set_error(-err, "%s: %s", file, strerror(-err));
	}
	slash = strrchr(file, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else	/* "/x.prom": the directory is "/" */
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file) + (slash == file), file);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);	/* the rename itself survives a crash */
		close(dfd);
	}
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/*
 * ADDR:PORT: an IPv4 literal, or an IPv6 one in brackets ([::1]:9477), and
 * a port 1-65535.  No host names: an exporter binds what it is told.
 */
static int parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	bool v6 = arg[0] == '[';
	const char *host = arg + v6, *colon;
	char addr[INET6_ADDRSTRLEN];
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	colon = v6 ? strstr(host, "]:") : strrchr(host, ':');
	if (!colon || colon == host || (size_t)(colon - host) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - host), host);
	colon += v6 ? 2 : 1;
	errno = 0;
	port = strtoul(colon, &end, 10);
	if (*colon < '0' || *colon > '9' || *end || errno || port < 1 || port > 65535)
		goto bad;
	if (v6) {
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*sl = sizeof(*s6);
	} else {
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*sl = sizeof(*s4);
	}
	return 0;
bad:
	return shunt_set_error(EINVAL, "--listen %s: want IPV4:PORT or [IPV6]:PORT, port 1-65535", arg);
}

/* --- the HTTP server ----------------------------------------------------- */

struct server {
	const char *pin_dir;
	char last_err[256];	/* the last scrape's failure, logged once */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *text,
			     const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * One request.  Every scrape opens the instance anew, so one loaded (or
 * unloaded, or upgraded) after the server started is what the next scrape
 * shows; a scrape of a missing instance is still a 200 with shunt_up 0, so
 * Prometheus tells "shunt is down" (shunt_up == 0) from "the exporter is
 * down" (up == 0).  MHD's internal polling thread runs requests one at a
 * time, which keeps the library's one error buffer to one user.
 */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	struct server *srv = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = 0;
	char *text;
	int err;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n",
			     "GET, HEAD");
	text = collect(srv->pin_dir, &len, &err);
	if (!text)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	if (err && strcmp(srv->last_err, shunt_strerror())) {
		pr_warn("metrics: %s (serving shunt_up 0)\n", shunt_strerror());
		snprintf(srv->last_err, sizeof(srv->last_err), "%s", shunt_strerror());
	} else if (!err && srv->last_err[0]) {
		pr_info("shunt: metrics: %s is readable again\n", srv->pin_dir);
		fflush(stdout);
		srv->last_err[0] = 0;
	}
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * The listening socket is ours, not MHD's, so that "address in use" and
 * "not an address of this host" come back as errno in one line (MHD's
 * start only says it failed).  SIGINT and SIGTERM are blocked before MHD
 * starts its thread, so they reach sigwait() here and nowhere else.
 */
static int serve(struct cli_env *env, const char *arg, const struct sockaddr_storage *ss,
		 socklen_t sl)
{
	struct server srv = { .pin_dir = env->pin_dir };
	struct MHD_Daemon *d;
	sigset_t set;
	int fd, one = 1, sig;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_warn("metrics: --listen %s: socket: %s\n", arg, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)	/* [::]:P means IPv6 only, as it reads */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) || listen(fd, 64)) {
		pr_warn("metrics: --listen %s: %s\n", arg, strerror(errno));
		close(fd);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
			     handle, &srv,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_LIMIT, 32,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10,
			     MHD_OPTION_END);
	if (!d) {
		pr_warn("metrics: --listen %s: the HTTP server did not start\n", arg);
		close(fd);
		return 1;
	}
	pr_info("shunt: serving metrics of %s on http://%s/metrics\n", env->pin_dir, arg);
	fflush(stdout);	/* a log line now, not at exit */
	while (sigwait(&set, &sig))
		;
	MHD_stop_daemon(d);	/* closes fd */
	return 0;
}

int cmd_metrics(struct cli_env *env, int argc, char **argv)
{
	const char *output = NULL, *listen_arg = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	size_t len = 0;
	char *text;
	int err;

	for (int i = 0; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--output") ? &output :
				   !strcmp(argv[i], "--listen") ? &listen_arg : NULL;

		if (!dst || i + 1 >= argc || *dst) {
			pr_warn("usage: shunt metrics [--output FILE | --listen ADDR:PORT]\n");
			return 2;
		}
		*dst = argv[++i];
	}
	if (output && listen_arg) {
		pr_warn("metrics: --output and --listen exclude each other\n");
		return 2;
	}
	if (listen_arg) {
		if (parse_listen(listen_arg, &ss, &sl)) {
			pr_warn("metrics: %s\n", shunt_strerror());
			return 2;
		}
		return serve(env, listen_arg, &ss, sl);
	}

	text = collect(env->pin_dir, &len, &err);
	if (!text) {
		pr_warn("metrics: out of memory\n");
		return 1;
	}
	if (!output) {
		if (!err)
			fwrite(text, 1, len, stdout);
		free(text);
		if (err)
			return cli_fail(err);
		return fflush(stdout) ? 1 : 0;
	}
	/*
	 * A file is written even when the instance is not loaded: it then says
	 * shunt_up 0, where a file left as it was would go on showing the last
	 * values as if the instance still ran.
	 */
	if (!ends_with(output, ".prom"))
		pr_warn("metrics: %s does not end in .prom: node_exporter's textfile collector reads only *.prom\n",
			output);
	if (err)
		pr_warn("%s\n", shunt_strerror());
	if (write_atomic(output, text, len)) {
		free(text);
		return cli_fail(-EIO);
	}
	free(text);
	return err ? 1 : 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

static enum shunt_log_level log_level = LOG_INFO;
static FILE *log_file;
static char log_prefix[128];

void shunt_log_set_level(enum shunt_log_level level)
{
	log_level = level;
}

void shunt_log_to(FILE *f, const char *prefix)
{
	log_file = f;
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ?: "");
}

static void vlog(enum shunt_log_level level, const char *fmt, va_list ap)
{
	char ts[32];
	struct tm tm;
	time_t now;

	if (level > log_level)
		return;
	if (!log_file) {
		vfprintf(level == LOG_INFO ? stdout : stderr, fmt, ap);
		return;
	}
	/* A log line per message, stamped: hooks have no terminal to print to. */
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(log_file, "%s %s", ts, log_prefix);
	/* pr_warn's "shunt: " says who speaks on a terminal; the prefix does here. */
	if (!strncmp(fmt, "shunt: ", 7))
		fmt += 7;
	vfprintf(log_file, fmt, ap);
	fflush(log_file);
}

void shunt_log(enum shunt_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's warnings are details of an error we report ourselves. */
	(void)level;
	vlog(LOG_DEBUG, fmt, ap);
	return 0;
}

void shunt_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

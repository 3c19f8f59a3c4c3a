// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>

#include "log.h"

static enum shunt_log_level log_level = LOG_INFO;

void shunt_log_set_level(enum shunt_log_level level)
{
	log_level = level;
}

static void vlog(enum shunt_log_level level, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	vfprintf(level == LOG_INFO ? stdout : stderr, fmt, ap);
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

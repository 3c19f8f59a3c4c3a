// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The one error module: the last failing call's one-line reason. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* Per thread: the bridge's connection and WATCH threads fail apart. */
static __thread char errbuf[1024];

const char *shunt_strerror(void)
{
	return errbuf;
}

int shunt_set_error(int err, const char *fmt, ...)
{
	char buf[sizeof(errbuf)];
	va_list ap;

	/* Through a copy: callers may pass shunt_strerror() as an argument. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Errors quote user input (paths): keep them one printable line. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	memcpy(errbuf, buf, sizeof(errbuf));
	return err > 0 ? -err : err;
}

/* --- environment checks ---------------------------------------------- */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one error module of the library.  A failing function returns -errno
 * and leaves one printable line (no "shunt: ", no newline) here; the caller
 * (CLI, OCI hook, CNI plugin) decides how to show it.
 */
#ifndef SHUNT_ERROR_H
#define SHUNT_ERROR_H

const char *shunt_strerror(void);
/* Sets the text; returns -err (err > 0), or err itself if it is <= 0. */
int shunt_set_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One logging module, as in xdp-tools: pr_warn/pr_info/pr_debug. */
#ifndef SHUNT_LOG_H
#define SHUNT_LOG_H

#include <stdio.h>

enum shunt_log_level {
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void shunt_log_set_level(enum shunt_log_level level);
void shunt_log(enum shunt_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Every message to @f instead, each line stamped and prefixed (hooks, CNI). */
void shunt_log_to(FILE *f, const char *prefix);
/* Route libbpf's own messages through shunt_log (shown with -v). */
void shunt_log_libbpf(void);

#define pr_warn(fmt, ...) shunt_log(LOG_WARN, "shunt: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) shunt_log(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) shunt_log(LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * shunt-cni's commands.  One invocation is one struct cni_run: the CNI_*
 * environment, the parsed conf, and the outcome.  A command returns 0 or a
 * CNI error code with cni_fail()'s message in r->msg; main prints the
 * result or the error JSON and mirrors the error to the log.
 */
#ifndef SHUNT_CNI_H
#define SHUNT_CNI_H

#include "conf.h"
#include "log.h"

struct cni_run {
	const char *cmd;		/* CNI_COMMAND */
	const char *id;			/* CNI_CONTAINERID */
	const char *netns;		/* CNI_NETNS */
	const char *ifname;		/* CNI_IFNAME */
	const char *tag;		/* "ADD <id>/<ifname>" and such, for the log */
	struct cni_conf conf;
	int code;
	char msg[512];
	char details[1024];
};

#define cni_warn(fmt, ...) shunt_log(LOG_WARN, fmt, ##__VA_ARGS__)
#define cni_info(fmt, ...) shunt_log(LOG_INFO, fmt, ##__VA_ARGS__)

/* Sets the outcome; returns @code.  @details may be NULL. */
int cni_fail(struct cni_run *r, int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

int cni_cmd_add(struct cni_run *r);
int cni_cmd_del(struct cni_run *r);
int cni_cmd_check(struct cni_run *r);
int cni_cmd_gc(struct cni_run *r);
int cni_cmd_status(struct cni_run *r);

#endif

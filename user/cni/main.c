// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt-cni: a CNI chained plugin (spec 1.0.0 and 1.1.0).  Put after a
 * plugin that sets up the interface (bridge + host-local, say), it
 * registers the container's addresses from prevResult as one shunt
 * endpoint on ADD, removes it on DEL and GC, compares on CHECK, and tells
 * on STATUS whether shunt is loaded.  The runtime gives the command and
 * the attachment in CNI_* variables and the network conf on stdin; stdout
 * carries exactly the result or the error JSON, logs go to the conf's
 * "log" file (or stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

#define STDIN_MAX (4 << 20)

static const struct {
	const char *name;
	int (*run)(struct cni_run *r);
	const char *need[3];	/* required variables besides CNI_COMMAND (spec) */
} commands[] = {
	{ "ADD", cni_cmd_add, { "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME" } },
	{ "DEL", cni_cmd_del, { "CNI_CONTAINERID", "CNI_IFNAME" } },
	{ "CHECK", cni_cmd_check, { "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME" } },
	{ "GC", cni_cmd_gc, { "CNI_PATH" } },
	{ "STATUS", cni_cmd_status, { "CNI_PATH" } },
};

/* NULL when unset or empty: the spec treats both as missing. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

/*
 * All of stdin, even for VERSION: a runtime writing the conf into a pipe
 * nobody reads would see EPIPE.  NULL (errno set) on a read error or past
 * STDIN_MAX.
 */
static char *read_stdin(void)
{
	char *buf = malloc(STDIN_MAX + 2);
	size_t n = 0, r;

	if (!buf)
		return NULL;
	while (n <= STDIN_MAX && (r = fread(buf + n, 1, STDIN_MAX + 1 - n, stdin)) > 0)
		n += r;
	if (ferror(stdin) || n > STDIN_MAX) {
		free(buf);
		errno = n > STDIN_MAX ? E2BIG : EIO;
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_version(void)
{
	json_object *o = json_object_new_object(), *v = json_object_new_array();

	json_object_array_add(v, json_object_new_string("1.0.0"));
	json_object_array_add(v, json_object_new_string("1.1.0"));
	json_object_object_add(o, "cniVersion", json_object_new_string(CNI_VERSION_LATEST));
	json_object_object_add(o, "supportedVersions", v);
	print_json(o);
	json_object_put(o);
}

/* The CNI error on stdout (the conf's version if it had one we read). */
static void print_error(const struct cni_run *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cniVersion",
			       json_object_new_string(r->conf.version[0] ? r->conf.version : CNI_VERSION_LATEST));
	json_object_object_add(o, "code", json_object_new_int(r->code));
	json_object_object_add(o, "msg", json_object_new_string(r->msg));
	if (r->details[0])
		json_object_object_add(o, "details", json_object_new_string(r->details));
	print_json(o);
	json_object_put(o);
}

/* ADD's result: prevResult as received, in the conf's version. */
static void print_result(struct cni_run *r)
{
	json_object_object_add(r->conf.prev, "cniVersion", json_object_new_string(r->conf.version));
	print_json(r->conf.prev);
}

/* A conf's "log": append; a log that cannot be opened fails nothing. */
static FILE *open_log(const char *path)
{
	FILE *f;

	if (!path[0])
		return NULL;
	f = fopen(path, "ae");
	if (!f)
		cni_warn("cannot open log %s: %s (logging to stderr)\n", path, strerror(errno));
	else
		shunt_log_to(f, "shunt-cni: ");
	return f;
}

int main(void)
{
	char tag[SHUNT_OWNER_MAX + 32];
	struct cni_run r = {};
	FILE *logf = NULL;
	int perr = 0, ci = -1;
	char *text;

	/* Nothing but the result may reach stdout: the library's messages
	 * too go to stderr until the conf names a log file. */
	shunt_log_to(stderr, "shunt-cni: ");
	r.cmd = env("CNI_COMMAND");
	r.id = env("CNI_CONTAINERID");
	r.netns = env("CNI_NETNS");
	r.ifname = env("CNI_IFNAME");
	text = read_stdin();
	if (!text) {
		cni_fail(&r, errno == E2BIG ? CNI_ERR_DECODE : CNI_ERR_IO, NULL,
			 "reading the network configuration on stdin: %s",
			 errno == E2BIG ? "larger than 4 MiB" : strerror(errno));
		goto fail;
	}
	if (r.cmd && !strcmp(r.cmd, "VERSION")) {
		free(text);
		print_version();
		return 0;
	}
	perr = cni_conf_parse(text, &r.conf);
	free(text);
	logf = open_log(r.conf.log);

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (r.cmd && !strcmp(r.cmd, commands[i].name))
			ci = i;
	if (r.id && r.ifname)
		snprintf(tag, sizeof(tag), "%s %s/%s", r.cmd ?: "-", r.id, r.ifname);
	else
		snprintf(tag, sizeof(tag), "%s %s", r.cmd ?: "-", r.conf.name[0] ? r.conf.name : "-");
	for (char *p = tag; *p; p++)	/* the environment, quoted in log lines */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	r.tag = tag;
	if (ci < 0) {
		if (r.cmd)
			cni_fail(&r, CNI_ERR_ENV, NULL, "unknown CNI_COMMAND \"%s\" (ADD, DEL, CHECK, GC, STATUS, VERSION)",
				 r.cmd);
		else
			cni_fail(&r, CNI_ERR_ENV, NULL, "CNI_COMMAND is not set");
		goto fail;
	}
	for (int k = 0; k < 3 && commands[ci].need[k]; k++) {
		if (!env(commands[ci].need[k])) {
			cni_fail(&r, CNI_ERR_ENV, NULL, "%s needs %s", r.cmd, commands[ci].need[k]);
			goto fail;
		}
	}
	if (perr) {
		cni_fail(&r, cni_conf_code(perr), NULL, "%s", shunt_strerror());
		goto fail;
	}
	if (commands[ci].run(&r))
		goto fail;
	if (!strcmp(r.cmd, "ADD"))
		print_result(&r);
	cni_conf_free(&r.conf);
	if (logf)
		fclose(logf);
	return 0;
fail:
	print_error(&r);
	cni_warn("%s: error %d: %s%s%s%s\n", r.tag ?: r.cmd ?: "-", r.code, r.msg,
		 r.details[0] ? " (" : "", r.details, r.details[0] ? ")" : "");
	cni_conf_free(&r.conf);
	if (logf)
		fclose(logf);
	return 1;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every rendering of the command table (main.c): `shunt --help`, `shunt help
 * VERB` (and `shunt VERB --help`), the man page shunt(8), and the word lists
 * bash completion asks for.  One source, so they cannot disagree; t_docs
 * checks README's manual against them.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

const char *shunt_version(void)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s (bpf object %016llx)", shunt_build_version(),
		 (unsigned long long)shunt_object_id());
	return buf;
}

static void cmd_name(const struct cli_cmd *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->name, c->sub ? " " : "", c->sub ?: "");
}

void help_usage(FILE *f)
{
	char head[64];

	fprintf(f, "Usage: shunt [--pin-dir DIR] [-v] [-j] COMMAND ...\n\n");
	for (size_t i = 0; i < cli_ncmds; i++) {
		cmd_name(&cli_cmds[i], head, sizeof(head));
		fprintf(f, "  shunt %s%s%s\n      %s\n", head, cli_cmds[i].args[0] ? " " : "",
			cli_cmds[i].args, cli_cmds[i].help);
	}
	fprintf(f, "\nGlobal options:\n");
	for (const struct cli_opt *o = cli_globals; o->name; o++)
		fprintf(f, "  %-15s %s\n", o->name, o->help);
	fprintf(f, "\n'shunt help COMMAND' shows a command's options and examples; 'man shunt' the manual.\n");
}

/* @text wrapped at 76 columns, each line indented by @indent. */
static void wrap(FILE *f, const char *text, int indent)
{
	const char *p = text;

	while (*p) {
		int n = 0, cut = 0;

		while (p[n] && n < 76 - indent) {
			if (p[n] == ' ')
				cut = n;
			n++;
		}
		if (!p[n])
			cut = n;
		else if (!cut)
			cut = n;
		fprintf(f, "%*s%.*s\n", indent, "", cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

int help_verb(FILE *f, const struct cli_cmd *c)
{
	char head[64];
	const char *e;

	cmd_name(c, head, sizeof(head));
	fprintf(f, "Usage: shunt %s%s%s\n\n", head, c->args[0] ? " " : "", c->args);
	wrap(f, c->desc, 2);
	if (c->opts && c->opts->name) {
		fprintf(f, "\nOptions:\n");
		for (const struct cli_opt *o = c->opts; o->name; o++) {
			char left[48];

			snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg ? " " : "", o->arg ?: "");
			fprintf(f, "  %-22s %s\n", left, o->help);
		}
	}
	fprintf(f, "\nExamples:\n");
	for (e = c->examples; *e;) {
		size_t n = strcspn(e, "\n");

		fprintf(f, "  %.*s\n", (int)n, e);
		e += n + (e[n] == '\n');
	}
	return 0;
}

/* roff: a backslash and a leading dot or quote must be escaped. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else if (*s == '\n')
			fputs("\n", f);
		else
			fputc(*s, f);
	}
}

/* ".TP" then the option in bold, its argument in italics. */
static void man_opt(FILE *f, const struct cli_opt *o)
{
	fprintf(f, ".TP\n.B ");
	roff(f, o->name);
	if (o->arg) {
		fputs(" \\fI", f);
		roff(f, o->arg);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	roff(f, o->help);
	fputc('\n', f);
}

void help_man(FILE *f)
{
	char head[64];

	fprintf(f, ".TH SHUNT 8 \"\" \"shunt %s\" \"System Administration\"\n", shunt_build_version());
	fprintf(f, ".SH NAME\nshunt \\- TCP between partitions of one host, without the network stack\n");
	fprintf(f, ".SH SYNOPSIS\n.B shunt\n[\\fB\\-\\-pin\\-dir\\fR \\fIDIR\\fR] [\\fB\\-v\\fR] [\\fB\\-j\\fR] \\fICOMMAND\\fR ...\n");
	fprintf(f, ".SH DESCRIPTION\n");
	roff(f, "shunt redirects the payload of established TCP connections between network namespaces, "
		"containers and VMs of one host straight into the peer socket (eBPF sock_ops and sk_msg "
		"with a sockhash), when both ends are registered endpoints of one network. Everything "
		"else stays on plain TCP. README.md is the full manual.");
	fprintf(f, "\n.SH COMMANDS\n");
	for (size_t i = 0; i < cli_ncmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];
		const char *e;

		cmd_name(c, head, sizeof(head));
		fprintf(f, ".TP\n\\fBshunt %s\\fR", head);
		if (c->args[0]) {
			fputs(" \\fI", f);
			roff(f, c->args);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff(f, c->desc);
		fputc('\n', f);
		for (const struct cli_opt *o = c->opts; o && o->name; o++) {
			fprintf(f, ".RS\n");
			man_opt(f, o);
			fprintf(f, ".RE\n");
		}
		fprintf(f, ".RS\n.PP\nExamples:\n.nf\n");
		for (e = c->examples; *e;) {
			size_t n = strcspn(e, "\n");
			char line[256];

			snprintf(line, sizeof(line), "%.*s", (int)n, e);
			roff(f, line);
			fputc('\n', f);
			e += n + (e[n] == '\n');
		}
		fprintf(f, ".fi\n.RE\n");
	}
	fprintf(f, ".SH GLOBAL OPTIONS\n");
	for (const struct cli_opt *o = cli_globals; o->name; o++)
		man_opt(f, o);
	fprintf(f, ".SH ENVIRONMENT\n.TP\n.B SHUNT_PIN_DIR\nthe default of \\fB\\-\\-pin\\-dir\\fR.\n");
	fprintf(f, ".SH EXIT STATUS\n0 on success, 1 on an error (one line on stderr), 2 on a usage error.\n");
	fprintf(f, ".SH FILES\n.TP\n.I /etc/shunt/endpoints.json\nstatic endpoints restored at boot (shunt.service)\n");
	fprintf(f, ".TP\n.I /etc/shunt/cgroups\ncgroups attached at boot, one per line, relative to the cgroup2 mount\n");
	fprintf(f, ".SH SEE ALSO\n.BR bpftool (8),\n.BR ip-netns (8),\n.BR systemd.service (5)\n");
}

int cmd_help(struct cli_env *env, int argc, char **argv)
{
	const struct cli_cmd *c = NULL;

	(void)env;
	if (argc == 1 && !strcmp(argv[0], "--man")) {
		help_man(stdout);
		return 0;
	}
	if (argc == 1 && !strcmp(argv[0], "--commands")) {
		for (size_t i = 0; i < cli_ncmds; i++)
			if (!cli_cmds[i].sub || (i > 0 && strcmp(cli_cmds[i - 1].name, cli_cmds[i].name)))
				printf("%s\n", cli_cmds[i].name);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[0], "--options")) {
		for (size_t i = 0; i < cli_ncmds; i++) {
			if (strcmp(cli_cmds[i].name, argv[1]))
				continue;
			if (cli_cmds[i].sub && (argc < 3 || strcmp(cli_cmds[i].sub, argv[2]))) {
				if (argc < 3)
					printf("%s\n", cli_cmds[i].sub);	/* a sub-command */
				continue;
			}
			for (const struct cli_opt *o = cli_cmds[i].opts; o->name; o++)
				printf("%s\n", o->name);
		}
		for (const struct cli_opt *o = cli_globals; o->name; o++)
			printf("%s\n", o->name);
		return 0;
	}
	if (argc == 0) {
		help_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < cli_ncmds && !c; i++)
		if (!strcmp(cli_cmds[i].name, argv[0]) &&
		    (!cli_cmds[i].sub || (argc > 1 && !strcmp(cli_cmds[i].sub, argv[1]))))
			c = &cli_cmds[i];
	if (!c) {
		pr_warn("help: unknown command '%s%s%s'; see 'shunt --help'\n", argv[0],
			argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return 2;
	}
	return help_verb(stdout, c);
}

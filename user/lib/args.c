// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "args.h"

/* Matches "--opt VALUE" and "--opt=VALUE"; advances *i past what it took. */
static int opt_value(int argc, char **argv, int *i, const char *opt,
		     const char **val)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n))
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

int args_globals(int *argc, char **argv, struct global_opts *g)
{
	int out = 0, r;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		r = opt_value(*argc, argv, &i, "--pin-dir", &g->pin_dir);
		if (r < 0)
			return shunt_set_error(EINVAL, "--pin-dir needs a directory");
		if (r > 0) {
			if (g->pin_dir[0] != '/')
				return shunt_set_error(EINVAL, "--pin-dir %s: must be an absolute path",
					       g->pin_dir);
			continue;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			g->verbose++;
		else if (!strcmp(a, "-j") || !strcmp(a, "--json"))
			g->json = 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			g->help = 1;
		else if (!strcmp(a, "-V") || !strcmp(a, "--version"))
			g->version = 1;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int args_ep_add(int argc, char **argv, struct endpoint *ep)
{
	const char *val;
	int r;

	memset(ep, 0, sizeof(*ep));
	strcpy(ep->network, SHUNT_DEFAULT_NETWORK);
	for (int i = 0; i < argc; i++) {
		if ((r = opt_value(argc, argv, &i, "--netns", &val))) {
			if (r < 0 || !val[0])
				goto missing;
			if (strlen(val) >= sizeof(ep->netns))
				return shunt_set_error(EINVAL, "--netns: longer than %zu characters",
					       sizeof(ep->netns) - 1);
			strcpy(ep->netns, val);
		} else if ((r = opt_value(argc, argv, &i, "--vm", &val))) {
			if (r < 0 || !val[0])
				goto missing;
			if (strlen(val) >= sizeof(ep->vm))
				return shunt_set_error(EINVAL, "--vm: longer than %zu characters",
					       sizeof(ep->vm) - 1);
			strcpy(ep->vm, val);
		} else if ((r = opt_value(argc, argv, &i, "--mac", &val))) {
			if (r < 0)
				goto missing;
			if (mac_parse(val, ep->mac))
				return -EINVAL;
			ep->has_mac = true;
		} else if ((r = opt_value(argc, argv, &i, "--network", &val))) {
			if (r < 0)
				goto missing;
			if (network_check(val))
				return -EINVAL;
			strcpy(ep->network, val);
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return shunt_set_error(EINVAL, "endpoint add: unknown option %s", argv[i]);
		} else if (!ep->name[0]) {
			if (name_check(argv[i]))
				return -EINVAL;
			strcpy(ep->name, argv[i]);
		} else {
			if (ep->naddrs == SHUNT_MAX_ADDRS)
				return shunt_set_error(EINVAL, "endpoint add: at most %d addresses",
					       SHUNT_MAX_ADDRS);
			if (addr_parse(argv[i], &ep->addrs[ep->naddrs]))
				return -EINVAL;
			ep->naddrs++;
		}
	}
	if (!ep->name[0] || !ep->naddrs)
		return shunt_set_error(EINVAL, "endpoint add: need NAME and at least one ADDR");
	return 0;
missing:
	return shunt_set_error(EINVAL, "endpoint add: %s needs a value", argv[argc - 1]);
}

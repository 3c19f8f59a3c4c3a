// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The build's version: `git describe` at build time, or the VERSION file of
 * a source tarball (Makefile writes it to .output/version.h). */
#include "loader.h"
#include "version.h"

const char *shunt_build_version(void)
{
	return SHUNT_VERSION;
}

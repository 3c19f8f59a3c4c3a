// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the OCI state a runtime writes on `shunt oci-hook`'s
 * stdin.  Any input parses or fails with one line, never crashes, and what
 * parses has an id that is a valid endpoint name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state st;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (oci_state_parse(text, &st)) {
		if (strchr(shunt_strerror(), '\n'))
			abort();
	} else if (name_check(st.id) || st.pid < 0) {
		abort();
	}
	free(text);
	return 0;
}

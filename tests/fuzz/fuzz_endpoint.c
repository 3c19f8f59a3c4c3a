// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: endpoint files.  Any input must parse or fail with one
 * line, never crash; what parses must serialize and parse back to the same
 * text (the `endpoint list --json` round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_table t, t2;
	char *text, *a, *b;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (ep_table_parse_json(&t, text, "fuzz")) {
		if (strchr(shunt_strerror(), '\n'))
			abort();	/* errors are one line */
		free(text);
		return 0;
	}
	a = ep_table_to_json(&t);
	if (!a || ep_table_parse_json(&t2, a, "again"))
		abort();
	b = ep_table_to_json(&t2);
	if (!b || strcmp(a, b))
		abort();
	free(a);
	free(b);
	ep_table_free(&t);
	ep_table_free(&t2);
	free(text);
	return 0;
}

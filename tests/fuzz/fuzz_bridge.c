// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: what a guest can send the bridge, a request header
 * (checked as from an agent and as from the relay), a reply, and what an
 * operator writes, the relay's VM list.  Never a crash; an error is one
 * line; a header that passes has NUL-terminated, valid names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shunt_br_vms vms = {};
	struct shunt_br_hdr h;
	struct shunt_br_reply r;
	char *text;

	if (size >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		for (int stamped = 0; stamped < 2; stamped++) {
			if (shunt_br_hdr_check(&h, stamped)) {
				if (strchr(shunt_strerror(), '\n'))
					abort();
			} else if (h.type == SHUNT_BR_T_OPEN &&
				   (vm_name_check(h.dst_vm) || network_check(h.network))) {
				abort();
			}
		}
	}
	if (size >= sizeof(r)) {
		memcpy(&r, data, sizeof(r));
		if (!shunt_br_reply_check(&r) && !memchr(r.vm, 0, sizeof(r.vm)))
			abort();
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (shunt_br_vms_parse(&vms, text, "fuzz") && strchr(shunt_strerror(), '\n'))
		abort();
	shunt_br_vms_free(&vms);
	free(text);
	return 0;
}

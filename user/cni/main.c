// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt-cni: a CNI chained plugin (placeholder, being written). */
#include <stdio.h>

int main(void)
{
	printf("{\"cniVersion\":\"1.0.0\",\"code\":50,\"msg\":\"shunt-cni: not implemented yet\"}\n");
	return 1;
}

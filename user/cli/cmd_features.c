// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt features: what this kernel offers shunt (bpftool feature probe). */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "cli.h"
#include "feature.h"

static void print_json(const struct shunt_features *f)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (int i = 0; i < f->n; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(f->f[i].name));
		json_object_object_add(e, "present", json_object_new_boolean(!f->f[i].err));
		json_object_object_add(e, "required", json_object_new_boolean(f->f[i].required));
		json_object_object_add(e, "since", json_object_new_string(f->f[i].since));
		json_object_object_add(e, "for", json_object_new_string(f->f[i].need));
		if (f->f[i].err)
			json_object_object_add(e, "error", json_object_new_string(strerror(-f->f[i].err)));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "features", a);
	json_object_object_add(o, "read_counter", json_object_new_string(shunt_rx_hook_name(f->rx_hook)));
	json_object_object_add(o, "read_counter_why", json_object_new_string(f->rx_why));
	json_object_object_add(o, "redirect", json_object_new_boolean(!shunt_features_require(f) &&
								       f->rx_hook != SHUNT_RX_NONE));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int cmd_features(struct cli_env *env, int argc, char **argv)
{
	struct shunt_features f;
	int err;

	(void)argc;
	(void)argv;
	err = shunt_check_env();
	if (err)
		return cli_fail(err);
	shunt_features_probe(&f, true);
	if (env->json) {
		print_json(&f);
		return 0;
	}
	for (int i = 0; i < f.n; i++)
		printf("%-38s %-8s %-5s %s%s%s\n", f.f[i].name,
		       f.f[i].required ? (f.f[i].err ? "MISSING" : "ok") : (f.f[i].err ? "no" : "yes"),
		       f.f[i].since, f.f[i].need, f.f[i].err ? ": " : "",
		       f.f[i].err ? strerror(-f.f[i].err) : "");
	printf("read counter: %s\n", f.rx_why);
	err = shunt_features_require(&f);
	if (err)
		printf("redirect: no (%s)\n", shunt_strerror());
	else
		printf("redirect: %s\n", f.rx_hook == SHUNT_RX_NONE ? "no (no read counter)" : "yes");
	return 0;
}

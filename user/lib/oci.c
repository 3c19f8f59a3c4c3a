// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The OCI state JSON a runtime gives its hooks (runtime-spec runtime.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "endpoint.h"
#include "oci.h"

static int get_str(json_object *o, const char *key, char *dst, size_t len, bool required)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return shunt_set_error(EINVAL, "OCI state: missing \"%s\"", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return shunt_set_error(EINVAL, "OCI state: \"%s\" is not a string", key);
	if (strlen(json_object_get_string(v)) >= len)
		return shunt_set_error(EINVAL, "OCI state: \"%s\" longer than %zu characters", key, len - 1);
	snprintf(dst, len, "%s", json_object_get_string(v));
	return 0;
}

int oci_state_parse(const char *json, struct oci_state *st)
{
	enum json_tokener_error jerr;
	json_object *root, *v, *ann;
	char enable[16] = "";
	int err;

	memset(st, 0, sizeof(*st));
	st->enable = true;
	root = json_tokener_parse_verbose(json, &jerr);
	if (!root)
		return shunt_set_error(EINVAL, "OCI state on stdin is not JSON: %s",
				       json_tokener_error_desc(jerr));
	if (!json_object_is_type(root, json_type_object)) {
		err = shunt_set_error(EINVAL, "OCI state on stdin is not a JSON object");
		goto out;
	}
	err = get_str(root, "id", st->id, sizeof(st->id), true);
	if (!err)
		err = get_str(root, "status", st->status, sizeof(st->status), true);
	if (err)
		goto out;
	/* Ids become endpoint names and owners: the same characters as names. */
	err = name_check(st->id);
	if (err) {
		err = shunt_set_error(EINVAL, "OCI state: id: %s", shunt_strerror());
		goto out;
	}
	if (json_object_object_get_ex(root, "pid", &v) && !json_object_is_type(v, json_type_null)) {
		int64_t pid = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || pid < 0 || pid > (1 << 22)) {
			err = shunt_set_error(EINVAL, "OCI state: \"pid\" is not a process id");
			goto out;
		}
		st->pid = (int)pid;
	}
	if (json_object_object_get_ex(root, "annotations", &ann) &&
	    !json_object_is_type(ann, json_type_null)) {
		if (!json_object_is_type(ann, json_type_object)) {
			err = shunt_set_error(EINVAL, "OCI state: \"annotations\" is not an object");
			goto out;
		}
		err = get_str(ann, SHUNT_ANN_ENABLE, enable, sizeof(enable), false);
		if (!err)
			err = get_str(ann, SHUNT_ANN_NAME, st->name, sizeof(st->name), false);
		if (!err)
			err = get_str(ann, SHUNT_ANN_NETWORK, st->network, sizeof(st->network), false);
		if (err)
			goto out;
		if (enable[0] && strcmp(enable, "true") && strcmp(enable, "false")) {
			err = shunt_set_error(EINVAL, "OCI state: annotation %s must be \"true\" or \"false\"",
					      SHUNT_ANN_ENABLE);
			goto out;
		}
		st->enable = strcmp(enable, "false") != 0;
		if (st->name[0] && (err = name_check(st->name)))
			goto out;
		if (st->network[0] && (err = network_check(st->network)))
			goto out;
	}
out:
	json_object_put(root);
	return err;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* shunt status: counters, limits, sockets, links of a running instance. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bridge.h"
#include "internal.h"
#include "pinned.h"


const char *const shunt_stat_names[SHUNT_ST_MAX] = {
	[SHUNT_ST_ESTABLISHED]		= "established",
	[SHUNT_ST_SOCK_ADDED]		= "sockets_added",
	[SHUNT_ST_SOCK_REMOVED]		= "sockets_removed",
	[SHUNT_ST_CONN_REDIR]		= "connections_redirected",
	[SHUNT_ST_TX_REDIR]		= "directions_redirected",
	[SHUNT_ST_TX_TCP]		= "directions_tcp",
	[SHUNT_ST_MSG_REDIR]		= "messages_redirected",
	[SHUNT_ST_BYTES_REDIR]		= "bytes_redirected",
	[SHUNT_ST_FC_DETOUR]		= "fc_detours",
	[SHUNT_ST_FC_RESUME]		= "fc_resumes",
	[SHUNT_ST_BYTES_DETOUR]		= "bytes_detoured",
	[SHUNT_ST_TCP_PAUSED]		= "tcp_paused",
	[SHUNT_ST_TCP_FAMILY]		= "tcp_family",
	[SHUNT_ST_TCP_NO_LOCAL]		= "tcp_no_local_endpoint",
	[SHUNT_ST_TCP_NO_PEER]		= "tcp_no_peer_endpoint",
	[SHUNT_ST_TCP_PEER_REMOTE]	= "tcp_peer_remote",
	[SHUNT_ST_TCP_SAME_NETNS]	= "tcp_same_netns",
	[SHUNT_ST_TCP_MAP_FULL]		= "tcp_map_full",
	[SHUNT_ST_TCP_PEER_ABSENT]	= "tcp_peer_absent",
	[SHUNT_ST_TCP_SENT_BYTES]	= "tcp_sent_bytes",
	[SHUNT_ST_TCP_CONN_TCP]		= "tcp_conn_tcp",
	[SHUNT_ST_TCP_LATE]		= "tcp_joined_late",
	[SHUNT_ST_TCP_PEER_GONE]	= "tcp_peer_gone",
	[SHUNT_ST_TCP_SEMANTICS]	= "tcp_semantics",
	[SHUNT_ST_RX_EAGAIN]		= "kernel_eagain",
	[SHUNT_ST_TCP_NO_RX_HOOK]	= "tcp_no_read_counter",
	[SHUNT_ST_EP_STALE]		= "endpoints_replaced_stale",
};


int shunt_status_read(struct shunt_ctx *c, struct shunt_status *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct shunt_sock_key k, nk, *prev = NULL;
	char path[PATH_MAX], cgmnt[PATH_MAX];
	struct bpf_map_info info = {};
	struct shunt_conn conn;
	struct shunt_cfg cfg;
	struct ep_table t;
	struct dirent *de;
	__u32 info_len;
	__u64 *vals;
	int err, fd;
	DIR *d;

	memset(s, 0, sizeof(*s));
	err = shunt_get_cfg(c, &cfg);
	if (err)
		return err;
	s->gen = cfg.gen;
	s->paused = cfg.flags & SHUNT_CFG_PAUSED;

	err = shunt_ep_read(c, &t);
	if (err)
		return err;
	s->endpoints = t.n;
	ep_table_free(&t);

	vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	if (!vals)
		return shunt_set_error(ENOMEM, "out of memory");
	for (__u32 i = 0; i < SHUNT_ST_MAX; i++) {
		if (bpf_map_lookup_elem(c->stats_fd, &i, vals))
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			s->stats[i] += vals[cpu];
	}
	for (__u32 i = 0; i < SHUNT_BR_MAX; i++) {
		if (bpf_map_lookup_elem(c->br_stats_fd, &i, vals))
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			s->br[i] += vals[cpu];
	}
	free(vals);
	s->agent_alive = shunt_br_agent_alive(c, &s->agent);

	/* The limits this instance was loaded with. */
	info_len = sizeof(info);
	if (!bpf_obj_get_info_by_fd(c->sockhash_fd, &info, &info_len))
		s->max_sockets = info.max_entries;
	s->rx_hook = -1;
	fd = shunt_pin_open(c->pin_dir, "progs", "shunt_msg");
	if (fd >= 0) {
		__u64 rx;

		pinned_rodata_u64(fd, "fc_bound", &s->fc_bound);
		pinned_rodata_u64(fd, "obj_id", &s->obj_id);
		pinned_rodata(fd, "build_version", s->version, sizeof(s->version));
		s->version[sizeof(s->version) - 1] = 0;
		if (!pinned_rodata_u64(fd, "rx_hook", &rx))
			s->rx_hook = rx;
		close(fd);
	}
	for (size_t i = 0; i < SHUNT_NR_RX_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/links/%s", c->pin_dir, shunt_rx_links[i]);
		if (!access(path, F_OK))
			s->rx_links++;
	}

	while (!bpf_map_get_next_key(c->sockhash_fd, prev, &nk)) {
		k = nk;
		prev = &k;
		s->sockets++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(c->conns_fd, prev, &nk)) {
		k = nk;
		prev = &k;
		if (!bpf_map_lookup_elem(c->conns_fd, &k, &conn) &&
		    (conn.state & (SHUNT_CONN_RX_A | SHUNT_CONN_RX_P)))
			s->conns_redir++;
	}

	shunt_cgroup2_mount(cgmnt, sizeof(cgmnt));
	snprintf(path, sizeof(path), "%s/links", c->pin_dir);
	d = opendir(path);
	while (d && (de = readdir(d)) && s->nlinks < (int)(sizeof(s->links) / sizeof(s->links[0]))) {
		struct shunt_link_info *l = &s->links[s->nlinks];
		unsigned long long id;

		if (sscanf(de->d_name, "cg_%llu", &id) != 1)
			continue;
		l->cgroup_id = id;
		if (!cgmnt[0] || !shunt_find_cgroup(cgmnt, id, l->path, sizeof(l->path), 0))
			l->path[0] = 0;
		s->nlinks++;
	}
	if (d)
		closedir(d);
	return 0;
}

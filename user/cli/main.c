// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * shunt: the loader CLI.  A declarative table of commands (as bpftool's cmd
 * table and xdp-tools' DEFINE_COMMAND); global options may stand anywhere.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "log.h"

const struct cli_opt cli_globals[] = {
	{ "--pin-dir", "DIR", "instance directory on bpffs (default " SHUNT_DEFAULT_PIN_DIR ")" },
	{ "--json", NULL, "JSON output for listings and status (also -j)" },
	{ "--verbose", NULL, "show libbpf and verifier messages (also -v)" },
	{ "--help", NULL, "this help, or a command's with a command (also -h)" },
	{ "--version", NULL, "the version and the BPF object's identity (also -V)" },
	{ NULL },
};

static const struct cli_opt load_opts[] = {
	{ "--max-sockets", "N", "sockhash and connection table size (2 to 16777216, default 65536)" },
	{ "--fc-bound", "BYTES", "flow-control bound, K/M suffixes (64K to 1024M, default 4M)" },
	{ "--upgrade", NULL, "swap in this binary's programs on a running instance, keeping maps and connections" },
	{ NULL },
};
static const struct cli_opt unload_opts[] = {
	{ "--wait", "SECS", "wait up to SECS for redirected sockets to close (0-3600)" },
	{ "--force", NULL, "unload even if sockets are redirected (drops their queued bytes)" },
	{ NULL },
};
static const struct cli_opt ep_add_opts[] = {
	{ "--netns", "NAME|PATH", "where it lives: a name under /var/run/netns or a path (default: own netns)" },
	{ "--vm", "VMNAME", "it lives in that VM, behind the vsock bridge (connections to it stay TCP until the bridge exists)" },
	{ "--mac", "MAC", "its MAC address (informational)" },
	{ "--network", "NET", "the network it is attached to (default \"default\")" },
	{ NULL },
};
static const struct cli_opt ep_load_opts[] = {
	{ "--partial", NULL, "skip (and list) endpoints whose netns does not exist yet, load the rest" },
	{ NULL },
};
static const struct cli_opt hook_opts[] = {
	{ "--log", "FILE", "append one stamped line per event to FILE (default: stderr)" },
	{ "--strict", NULL, "fail the container (exit 1) where the hook would go on" },
	{ "--lock-timeout", "MS", "give up after MS milliseconds waiting for the instance lock (default 2000)" },
	{ NULL },
};
static const struct cli_opt restore_opts[] = {
	{ "--config", "DIR", "the declared state (default /etc/shunt: endpoints.json, cgroups)" },
	{ "--max-sockets", "N", "as for load, when it loads" },
	{ "--fc-bound", "BYTES", "as for load, when it loads" },
	{ NULL },
};
static const struct cli_opt conns_opts[] = {
	{ "--all", NULL, "also the connections classified for TCP at establishment, with the reason" },
	{ "src", "ADDR[:PORT]", "only connections from this address (the connecting end's)" },
	{ "dst", "ADDR[:PORT]", "only connections to this address" },
	{ "--endpoint", "NAME", "only connections with this endpoint at either end" },
	{ NULL },
};
static const struct cli_opt events_opts[] = {
	{ "--count", "N", "exit after N events" },
	{ "--duration", "SECS", "exit after SECS seconds" },
	{ NULL },
};
static const struct cli_opt status_opts[] = {
	{ "--endpoint", "NAME", "that endpoint's counters: connections redirected, bytes each way, TCP by reason" },
	{ NULL },
};
static const struct cli_opt bridge_opts[] = {
	{ "--host", NULL, "run the relay (on the host), not an agent" },
	{ "--transport", "T", "agent: vsock (default; vsock:1 is vsock_loopback, for tests) or unix:PATH (a VM stand-in)" },
	{ "--vms", "FILE", "relay: the VMs, \"NAME TRANSPORT\" per line (vsock:CID, hybrid:PATH, unix:PATH)" },
	{ "--vm", "NAME=T", "relay: one VM (repeatable)" },
	{ "--port", "N", "the agents' port: vsock and TCP listener on loopback (default 9327)" },
	{ "--relay-port", "N", "the relay's vsock port, guest to host (default 9328)" },
	{ "--refresh", "SECS", "agent: ask a relay without WATCH for the endpoint list this often (default 5)" },
	{ "--max-conns", "N", "bridged connections at once (agent 1024, relay 4096); more are reset" },
	{ NULL },
};
static const struct cli_opt help_opts[] = {
	{ "--man", NULL, "print the man page shunt(8) (roff)" },
	{ "--commands", NULL, "list the commands, one per line (for completion)" },
	{ "--options", "VERB", "list a command's options, one per line (for completion)" },
	{ NULL },
};
static const struct cli_opt no_opts[] = { { NULL } };

static const struct cli_opt explain_opts[] = {
	{ "--netns", "NAME|PATH", "the netns of the connecting socket (default: that of the endpoint holding SRC)" },
	{ "--network", "NET", "the network of SRC's endpoint, to choose among several" },
	{ NULL },
};
static const struct cli_opt discover_opts[] = {
	{ "--apply", NULL, "register what was found as owner \"discover\" (replacing that owner's earlier entries)" },
	{ "--network", "NET", "put every endpoint in network NET instead of one per bridge or veth pair" },
	{ NULL },
};

static const struct cli_opt metrics_opts[] = {
	{ "--output", "FILE", "write FILE atomically (FILE.tmp.PID, fsync, rename); name it *.prom" },
	{ "--listen", "ADDR:PORT", "serve GET /metrics on IPV4:PORT or [IPV6]:PORT until SIGINT/SIGTERM" },
	{ NULL },
};

const struct cli_cmd cli_cmds[] = {
	{ "load", NULL, "[--max-sockets N] [--fc-bound BYTES] | --upgrade",
	  "load and pin programs and maps (mounts bpffs if needed)",
	  "Loads shunt's BPF programs and maps and pins them under the pin dir, after probing the "
	  "kernel (see features). Idempotent: on a loaded instance it only resumes one that a refused "
	  "unload paused. With --upgrade it moves a running instance to this binary's programs, keeping "
	  "every map (the endpoint table, the sockhash with its sockets, counters) and the load-time "
	  "settings; a build whose map layout differs is refused, the instance untouched.",
	  load_opts,
	  "shunt load\nshunt load --max-sockets 262144 --fc-bound 16M\nshunt load --upgrade",
	  0, 4, cmd_load },
	{ "unload", NULL, "[--wait SECS] [--force]",
	  "detach everything shunt attached, remove pins (refuses while sockets are redirected)",
	  "Pauses the instance (new connections stay on TCP), then removes links, programs and maps. "
	  "Unloading frees the bytes still queued in redirected sockets, so it refuses while any socket "
	  "is redirected, leaving the instance paused, unless --wait sees them close or --force.",
	  unload_opts, "shunt unload --wait 30", 0, 3, cmd_unload },
	{ "attach", NULL, "CGROUP", "attach to a cgroup v2 directory; idempotent",
	  "Attaches shunt's sock_ops and setsockopt programs to a cgroup v2 directory through two pinned "
	  "links. The root cgroup is refused, and so is a cgroup above or below an attached one (shunt "
	  "would run twice for its sockets). Connections made before stay on TCP.",
	  no_opts, "shunt attach /sys/fs/cgroup/unified/web", 1, 1, cmd_attach },
	{ "detach", NULL, "CGROUP", "detach from a cgroup",
	  "Removes the cgroup's links. Existing connections keep their path; new ones stay on TCP.",
	  no_opts, "shunt detach /sys/fs/cgroup/unified/web", 1, 1, cmd_detach },
	{ "endpoint", "add", "NAME ADDR... [--netns NAME|PATH | --vm VMNAME] [--mac MAC] [--network NET]",
	  "register an endpoint (a partition's addresses)",
	  "Adds a static endpoint: a name (up to 96 characters: letters, digits, '.', '_', '-'), up to 8 "
	  "IPv4 or IPv6 addresses, where it lives and its network. Redirection happens only between "
	  "endpoints of one network.",
	  ep_add_opts,
	  "shunt endpoint add web 10.0.0.2 fd00::2 --netns web\n"
	  "shunt endpoint add db 10.0.0.3 --netns /proc/4242/ns/net --network prod",
	  2, -1, cmd_ep_add },
	{ "endpoint", "del", "NAME", "remove an endpoint",
	  "Removes an endpoint of any owner (the way out for a stale entry). Existing connections keep "
	  "their path.",
	  no_opts, "shunt endpoint del web", 1, 1, cmd_ep_del },
	{ "endpoint", "list", "", "show the endpoint table, with owners (--json: owner and id too)",
	  "Lists every endpoint with its network, netns, MAC, owner (static, oci:ID, cni:NET/ID/IF) and "
	  "addresses. The JSON form is the endpoint file format and loads back unchanged.",
	  no_opts, "shunt endpoint list\nshunt endpoint list --json > endpoints.json", 0, 0, cmd_ep_list },
	{ "endpoint", "load", "FILE.json [--partial]", "replace the static endpoints from a file, atomically",
	  "Replaces the static endpoints by the file's; the entries of hooks and plugins stay. A bad "
	  "file changes nothing. With --partial, endpoints whose netns does not exist yet are listed "
	  "and skipped (run it again when they come) instead of failing the load.",
	  ep_load_opts, "shunt endpoint load /etc/shunt/endpoints.json\nshunt endpoint load endpoints.json --partial",
	  1, 2, cmd_ep_load },
	{ "status", NULL, "[--endpoint NAME]", "what is loaded and attached, and the counters",
	  "Shows the instance: paused or not, attached cgroups (removed ones as such), endpoints, "
	  "connections redirected now and in total, limits, the read counter in use, the version and "
	  "BPF object it runs, and every counter, including why connections stayed on TCP. With "
	  "--endpoint, one endpoint's counters (by its stable id; they go when it goes); --json "
	  "lists every endpoint's.",
	  status_opts, "shunt status\nshunt status --json | jq .counters\nshunt status --endpoint web",
	  0, 2, cmd_status },
	{ "conns", NULL, "[--all] [src ADDR[:PORT]] [dst ADDR[:PORT]] [--endpoint NAME]",
	  "the connections shunt holds, as ss shows sockets",
	  "Every connection shunt holds: both addresses and ports, network, the endpoints at each end "
	  "and their netns, each direction's path (redirect, detour, tcp, undecided) with the bytes it "
	  "sent since it was redirected and how many of those the other end has not read yet, and its "
	  "age. From kernel state: a walk of the shunt_conns map (no cache). --all adds the "
	  "connections classified for TCP when they were established, with the reason, for as long "
	  "as they live.",
	  conns_opts, "shunt conns\nshunt conns --all dst 10.0.0.3:5432\nshunt conns --json --endpoint web",
	  0, 8, cmd_conns },
	{ "events", NULL, "[--count N] [--duration SECS]",
	  "a live stream of shunt's decisions (like cilium monitor)",
	  "Prints each decision as it happens: a connection classified (a candidate, or TCP and why), "
	  "its first redirect, a direction left on TCP and why, flow-control detours and resumes, a "
	  "socket leaving the sockhash and why, a kernel_eagain hit. Never one event per message. "
	  "Several readers can listen at once (up to 8); nothing is recorded while nobody listens, "
	  "and a reader killed without a goodbye stops costing anything within 2 s. Events the "
	  "reader's ring had no room for are counted and printed as \"N events lost\". --json: one "
	  "object per line.",
	  events_opts, "shunt events\nshunt events --json --count 10", 0, 4, cmd_events },
	{ "features", NULL, "", "probe what this kernel offers shunt: required parts, the read counter",
	  "Probes the running kernel as bpftool feature probe does: the parts shunt needs, the read "
	  "counter load would pick and why, and behaviours that differ between kernels.",
	  no_opts, "shunt features\nshunt features --json", 0, 0, cmd_features },
	{ "oci-hook", NULL, "[STAGE] [--log FILE] [--strict] [--lock-timeout MS]",
	  "OCI runtime hook: follow a container (state JSON on stdin)",
	  "Run by a container runtime at createRuntime, poststart and poststop (STAGE, else from the "
	  "state's status): attaches the container's cgroup and registers its netns' addresses as owner "
	  "oci:ID, and removes exactly that at poststop. It never fails a container over what shunt "
	  "cannot do now (not loaded, locked, table full, no address): one log line and exit 0, unless "
	  "--strict. A state that is not a runtime's exits 2.",
	  hook_opts,
	  "shunt oci-hook createRuntime --log /var/log/shunt-hook.log < state.json",
	  0, 6, cmd_oci_hook },
	{ "restore", NULL, "[--config DIR] [--max-sockets N] [--fc-bound BYTES]",
	  "bring the declared state back: load (or upgrade), attach, load endpoints",
	  "What shunt.service runs at start and reload. Loads the instance if it is not loaded; if it "
	  "runs another BPF object than this binary's, upgrades it (a refused upgrade is reported, the "
	  "instance keeps running). Attaches the cgroups listed in DIR/cgroups (one per line, relative "
	  "to the cgroup2 mount; missing ones are reported) and loads DIR/endpoints.json as the static "
	  "endpoints with --partial: a netns that does not exist yet is reported, not fatal.",
	  restore_opts, "shunt restore\nshunt restore --config /etc/shunt", 0, 6, cmd_restore },
	/* issue 11: discover, explain, metrics (rows completed with their commands) */
	{ "discover", NULL, "[--json] [--apply] [--network NET]",
	  "list this host's network namespaces as endpoints (an endpoint file with --json)",
	  "Finds every named netns (ip netns: /run/netns, /var/run/netns) and every process's netns, "
	  "once per netns, and lists each with its interfaces, MACs and addresses (IPv4 and IPv6, not "
	  "loopback, not link-local; at most 8, more are dropped with a warning). The root netns is the "
	  "host, not a partition: never listed. Names stay the same from run to run: the netns name; for "
	  "an unnamed netns the container whose init lives there (a runc state.json: runc, docker, "
	  "containerd); else netns-INODE. The network is the host-side bridge the netns hangs off, "
	  "for a veth pair between two namespaces both their names, for a veth into the host without "
	  "a bridge its host end: overlapping address plans on different bridges never share one. "
	  "--json prints an endpoint file that endpoint load takes; a netns without an address is in "
	  "the table but not in the file, said on stderr. Reads the host, not the instance: works without "
	  "a loaded one. --apply registers the endpoints in the instance as owner discover, replacing "
	  "that owner's earlier ones; other owners' entries are never touched, and an endpoint whose "
	  "name or address another owner's live entry holds is skipped with a warning. It attaches no "
	  "cgroup.",
	  discover_opts,
	  "shunt discover\nshunt discover --json > endpoints.json && shunt endpoint load endpoints.json\n"
	  "shunt discover --apply --network lab",
	  0, 3, cmd_discover },
	{ "explain", NULL, "SRC DST[:PORT] [--netns NS] [--network NET]",
	  "would a connection from SRC to DST be redirected, and if not, why",
	  "Answers from the live table what the BPF classifier does for a connection whose connecting "
	  "socket has local address SRC and remote address DST: the endpoint and network of each "
	  "address (SRC looked up in the socket's own netns, DST in SRC's network), whether the two "
	  "netns differ, the passive socket's own lookup (DST in the peer's netns, remote SRC), and "
	  "whether each end's cgroup is attached, as far as the cgroups of the processes in its netns "
	  "tell. The last line is the verdict in the words of the status counters: 'verdict: redirect' "
	  "or 'verdict: tcp (REASON: why)'. SRC's netns is --netns, else that of the one endpoint "
	  "holding SRC (in --network, if given). The port is informational: shunt decides by address. "
	  "Exits 0 whenever it could answer.",
	  explain_opts,
	  "shunt explain 10.0.0.2 10.0.0.3:80\n"
	  "shunt explain 10.0.0.2 [fd00::3]:443 --netns web\n"
	  "shunt explain 10.0.0.3 10.0.0.2 --network tenant2 --json | jq -r .verdict",
	  2, 6, cmd_explain },
	{ "metrics", NULL, "[--output FILE | --listen ADDR:PORT]",
	  "counters and gauges in Prometheus text format, for node_exporter or a scrape",
	  "Prints the instance's counters and gauges in the Prometheus text exposition format "
	  "(0.0.4): shunt_up, shunt_build_info, the sockhash, endpoint table and cgroup gauges, the "
	  "counters of status (TCP reasons as shunt_connections_tcp_total{reason}) and the counters "
	  "per endpoint (labels endpoint, network). Not loaded, it exits 1. --output writes FILE "
	  "atomically for node_exporter's textfile collector (shunt_up 0 if not loaded). --listen "
	  "serves GET /metrics until SIGINT or SIGTERM, reading the instance at every scrape; one "
	  "that is not loaded is served as shunt_up 0.",
	  metrics_opts,
	  "shunt metrics\n"
	  "shunt metrics --output /var/lib/prometheus/node-exporter/shunt.prom\n"
	  "shunt metrics --listen 127.0.0.1:9477",
	  0, 4, cmd_metrics },
	{ "bridge", NULL, "[--host] [--transport T] [--vms FILE] [--vm NAME=T] [--port N]",
	  "across VMs: the vsock bridge's agent (in a VM) or relay (--host, on the host)",
	  "The agent runs in each VM with that VM's instance: it asks the relay for the endpoints of "
	  "its networks (other VMs' become peer entries, owner bridge), and while the relay answers it "
	  "keeps a liveness word fresh, so that the connect hook of attached cgroups steers connections "
	  "to those endpoints to its loopback listener; it sends each to the relay, and connects the "
	  "relay's connections only to this VM's own endpoint addresses. Without a live agent nothing "
	  "is steered: connections go by the VM's network. The relay (--host) knows the VMs (--vms, "
	  "--vm), serves each its list from the host's endpoint table, checks every connection there "
	  "(known VM, a registered endpoint of it in that network, the source VM in that network too, "
	  "the source taken from the transport) and joins the two agents. Counters: shunt status, "
	  "bridge. Both run until SIGINT or SIGTERM.",
	  bridge_opts,
	  "shunt bridge\n"
	  "shunt bridge --host --vms /etc/shunt/vms\n"
	  "shunt bridge --host --vm web=vsock:3 --vm db=hybrid:/run/fc/db.vsock",
	  0, 24, cmd_bridge },
	{ "help", NULL, "[VERB [SUB]] [--man]", "this help, or a command's",
	  "Shows the general usage, a command's help with its options and examples, or the man page.",
	  help_opts, "shunt help endpoint add\nshunt help --man | man -l -", 0, 3, cmd_help },
};

const size_t cli_ncmds = sizeof(cli_cmds) / sizeof(cli_cmds[0]);

int cli_fail(int err)
{
	(void)err;
	pr_warn("%s\n", shunt_strerror());
	return 1;
}

int cli_open(struct cli_env *env, struct shunt_ctx *c)
{
	int err = shunt_open(c, env->pin_dir);

	return err ? cli_fail(err) : 0;
}

int cli_open_rw(struct cli_env *env, struct shunt_ctx *c)
{
	int err = shunt_open(c, env->pin_dir);

	if (!err && (err = shunt_lock(c, SHUNT_LOCK_WAIT_MS)))
		shunt_close(c);
	return err ? cli_fail(err) : 0;
}

/* The command @argv names ("endpoint add" takes two words), or NULL. */
static const struct cli_cmd *find_cmd(int argc, char **argv)
{
	for (size_t i = 0; i < cli_ncmds; i++) {
		if (strcmp(cli_cmds[i].name, argv[0]))
			continue;
		if (!cli_cmds[i].sub || (argc > 1 && !strcmp(cli_cmds[i].sub, argv[1])))
			return &cli_cmds[i];
	}
	return NULL;
}

static int unknown_cmd(int argc, char **argv)
{
	bool ep = argc > 1 && !strcmp(argv[0], "endpoint");

	pr_warn("unknown command '%s%s%s'; see 'shunt --help'\n", argv[0], ep ? " " : "",
		ep ? argv[1] : "");
	return 2;
}

int main(int argc, char **argv)
{
	struct global_opts g = { .pin_dir = getenv("SHUNT_PIN_DIR") ?: SHUNT_DEFAULT_PIN_DIR };
	struct cli_env env;
	const struct cli_cmd *cmd;
	int nargs, used;

	argc--;
	argv++;
	if (g.pin_dir[0] != '/') {
		pr_warn("SHUNT_PIN_DIR %s: must be an absolute path\n", g.pin_dir);
		return 2;
	}
	if (args_globals(&argc, argv, &g)) {
		pr_warn("%s\n", shunt_strerror());
		return 2;
	}
	if (g.version) {
		printf("shunt %s\n", shunt_version());
		return 0;
	}
	if (argc == 0) {
		help_usage(g.help ? stdout : stderr);
		return g.help ? 0 : 2;
	}
	shunt_log_set_level(g.verbose ? LOG_DEBUG : LOG_INFO);
	shunt_log_libbpf();
	env.pin_dir = g.pin_dir;
	env.verbose = g.verbose;
	env.json = g.json;

	cmd = find_cmd(argc, argv);
	if (!cmd)
		return unknown_cmd(argc, argv);
	used = cmd->sub ? 2 : 1;
	if (g.help)	/* shunt VERB --help is shunt help VERB */
		return help_verb(stdout, cmd);
	nargs = argc - used;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		pr_warn("usage: shunt %s%s%s %s\n", cmd->name, cmd->sub ? " " : "",
			cmd->sub ?: "", cmd->args);
		return 2;
	}
	return cmd->run(&env, nargs, argv + used);
}

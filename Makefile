# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shunt: `make` builds bpf/shunt.bpf.o, its skeleton and the shunt CLI into
# .output/; `make test` installs what is missing, builds and runs all tests;
# `make demo` shows redis across two partitions, over TCP then over shunt.

OUTPUT   ?= .output
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Wno-format-truncation -std=gnu11 -Iinclude -Iuser/lib -I$(OUTPUT) \
	    $(EXTRA_DEFS)
LDLIBS   += -lbpf -lelf -lz -ljson-c -lmnl -lmicrohttpd
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -Iinclude -I$(OUTPUT) -Wall -Werror $(EXTRA_DEFS)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(wildcard user/lib/*.c)
CLI_SRCS := $(wildcard user/cli/*.c)
CNI_SRCS := $(wildcard user/cni/*.c)
LIB_OBJS := $(patsubst user/lib/%.c,$(OUTPUT)/lib/%.o,$(LIB_SRCS))
CLI_OBJS := $(patsubst user/cli/%.c,$(OUTPUT)/cli/%.o,$(CLI_SRCS))
HDRS     := $(wildcard include/shunt/*.h user/lib/*.h user/cni/*.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
# The pure parts of user space, also built with sanitizers and fuzzed.
PURE_SRCS := user/lib/endpoint.c user/lib/args.c user/lib/error.c user/lib/oci.c user/lib/bridge_proto.c
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	     -fno-sanitize-recover=all -Wall -Wextra -Werror -Iinclude -Iuser/lib
ASAN_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

# The version: a VERSION file (source tarballs), else git describe.
VERSION := $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo unknown)

.PHONY: all clean test demo deps fuzz bench vmtest FORCE install uninstall deb

# make install (autotools and xdp-tools conventions): PREFIX, DESTDIR and
# the directories below; README's Install section lists every file.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR  ?= /etc
CNIDIR      ?= /opt/cni/bin
UNITS       := shunt.service shunt-netns.path shunt-netns.service shunt-metrics.service \
	       shunt-bridge.service shunt-relay.service
HOOK_STAGES := createRuntime poststart poststop
.DELETE_ON_ERROR:

# Rebuilt variants of shunt that t_upgrade upgrades a running instance to:
# SHUNT_REBUILD=1 changes code and adds a map, =2 changes a map's layout.
REBUILDS := $(OUTPUT)/rebuild1/shunt $(OUTPUT)/rebuild2/shunt

all: $(OUTPUT)/shunt $(OUTPUT)/shunt-cni $(OUTPUT)/shunt.8 $(OUTPUT)/shunt.bpf.o $(OUTPUT)/shunt-traffic $(OUTPUT)/shunt-bench $(UNIT_BINS) \
     $(ASAN_BINS) $(FUZZ_BINS) $(REBUILDS) $(OUTPUT)/tests/vsock_probe.bpf.o $(OUTPUT)/vsock-probe

$(OUTPUT)/rebuild%/shunt: bpf/shunt.bpf.c $(wildcard bpf/lib/*.h) $(HDRS) $(LIB_SRCS) $(CLI_SRCS) $(OUTPUT)/vmlinux.h
	$(Q)mkdir -p $(@D) && cp -p $(OUTPUT)/vmlinux.h $(@D)/
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(@D) EXTRA_DEFS=-DSHUNT_REBUILD=$* $@

deps:
	$(Q)bash scripts/deps.sh

$(OUTPUT) $(OUTPUT)/lib $(OUTPUT)/cli $(OUTPUT)/tests $(OUTPUT)/asan $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)test -r $(VMLINUX_BTF) || { echo "shunt: no kernel BTF at $(VMLINUX_BTF)" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

# Two builds of one source: shunt.bpf.o for bpftool-only setups (README),
# and the object the CLI embeds, which adds the fexit read counter that
# `shunt load` enables where the kernel lacks the tracepoint (bpftool 7.1
# cannot pin an object with programs it did not load).
$(OUTPUT)/shunt.bpf.o: bpf/shunt.bpf.c $(wildcard bpf/lib/*.h) $(HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/shunt-cli.bpf.o: bpf/shunt.bpf.c $(wildcard bpf/lib/*.h) $(HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DSHUNT_CLI_OBJ -c $< -o $@

$(OUTPUT)/shunt.skel.h: $(OUTPUT)/shunt-cli.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name shunt_bpf > $@

# Rewritten only when the version changes, so nothing rebuilds otherwise.
$(OUTPUT)/version.h: FORCE | $(OUTPUT)
	$(Q)printf '#define SHUNT_VERSION "%s"\n' "$(VERSION)" > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(OUTPUT)/lib/version.o: $(OUTPUT)/version.h

$(OUTPUT)/lib/%.o: user/lib/%.c $(HDRS) $(OUTPUT)/shunt.skel.h | $(OUTPUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/cli/%.o: user/cli/%.c $(HDRS) $(OUTPUT)/shunt.skel.h | $(OUTPUT)/cli
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libshunt.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/shunt: $(CLI_OBJS) $(OUTPUT)/libshunt.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The man page, from the command table that also makes --help.
$(OUTPUT)/shunt.8: $(OUTPUT)/shunt
	$(call msg,GEN,$@)
	$(Q)$< help --man > $@

# The CNI chained plugin: its own binary (runtimes exec it by type name).
$(OUTPUT)/shunt-cni: $(CNI_SRCS) $(HDRS) $(OUTPUT)/libshunt.a | $(OUTPUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/cni $(CNI_SRCS) $(OUTPUT)/libshunt.a $(LDLIBS) -o $@

$(OUTPUT)/shunt-traffic: tests/tools/shunt-traffic.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $< -o $@

$(OUTPUT)/shunt-bench: tests/tools/shunt-bench.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $< -lm -o $@

# t_vsock_probe: what sockmap does with AF_VSOCK on the running kernel.
$(OUTPUT)/tests/vsock_probe.bpf.o: tests/bpf/vsock_probe.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/vsock-probe: tests/tools/vsock-probe.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $< -lbpf -lelf -lz -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libshunt.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libshunt.a $(LDLIBS) -lcmocka -o $@

# Unit tests again under ASan and UBSan (clang), run by tests/run.sh.
$(OUTPUT)/asan/%: tests/unit/%.c $(PURE_SRCS) $(HDRS) | $(OUTPUT)/asan
	$(call msg,CC-SAN,$@)
	$(Q)$(CLANG) $(SAN_FLAGS) $< $(PURE_SRCS) -ljson-c -lcmocka -o $@

$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(PURE_SRCS) $(HDRS) | $(OUTPUT)/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(SAN_FLAGS) -fsanitize=fuzzer $< $(PURE_SRCS) -ljson-c -o $@

# The CNI plugin's conf parser is pure too, and fuzzed with them.
$(OUTPUT)/fuzz/fuzz_cni: tests/fuzz/fuzz_cni.c user/cni/conf.c $(PURE_SRCS) $(HDRS) | $(OUTPUT)/fuzz
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(SAN_FLAGS) -Iuser/cni -fsanitize=fuzzer $< user/cni/conf.c $(PURE_SRCS) -ljson-c -o $@

# make fuzz: each target for FUZZ_SECONDS from the seed corpus (new inputs
# go to .output/fuzz/corpus-*, the seeds in tests/fuzz/corpus stay as they are).
fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p $(OUTPUT)/fuzz/corpus-$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) $(OUTPUT)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/run.sh

bench: deps
	$(Q)bash scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/bench.sh
	$(Q)bash scripts/bench-hook.sh

# make vmtest: tests/run.sh inside QEMU on another kernel (scripts/vmtest.sh:
# KERNEL=debian-6.1|debian-6.12|src-6.12|host, ONLY, TIMEOUT, SHUNT_SCALE).
vmtest: deps
	$(Q)bash scripts/deps.sh vmtest
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/vmtest.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/demo.sh

# Units and hooks.d files name the installed paths.
$(OUTPUT)/install/%: scripts/systemd/%.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

install: $(OUTPUT)/shunt $(OUTPUT)/shunt-cni $(OUTPUT)/shunt.8 $(addprefix $(OUTPUT)/install/,$(UNITS))
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(OUTPUT)/shunt $(DESTDIR)$(SBINDIR)/shunt
	$(Q)install -D -m 0755 $(OUTPUT)/shunt-cni $(DESTDIR)$(CNIDIR)/shunt-cni
	$(Q)install -D -m 0644 $(OUTPUT)/shunt.8 $(DESTDIR)$(MANDIR)/man8/shunt.8
	$(Q)install -D -m 0644 scripts/completion/shunt.bash $(DESTDIR)$(BASHCOMPDIR)/shunt
	$(Q)for u in $(UNITS); do install -D -m 0644 $(OUTPUT)/install/$$u $(DESTDIR)$(UNITDIR)/$$u; done
	$(Q)for st in $(HOOK_STAGES); do mkdir -p $(DESTDIR)$(DATADIR)/shunt/hooks.d; \
		printf '{"version": "1.0.0", "hook": {"path": "%s", "args": ["shunt", "oci-hook", "%s", "--log", "/var/log/shunt-hook.log"]}, "when": {"always": true}, "stages": ["%s"]}\n' \
		"$(SBINDIR)/shunt" $$st $$st > $(DESTDIR)$(DATADIR)/shunt/hooks.d/shunt-$$st.json; done
	$(Q)# The example configuration, never over an operator's own.
	$(Q)for f in endpoints.json cgroups vms; do [ -e $(DESTDIR)$(SYSCONFDIR)/shunt/$$f ] || \
		install -D -m 0644 scripts/etc/$$f $(DESTDIR)$(SYSCONFDIR)/shunt/$$f; done
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/default/shunt ] || \
		install -D -m 0644 scripts/etc/default $(DESTDIR)$(SYSCONFDIR)/default/shunt

# Removes what install put there; configuration only where it is still the example.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/shunt $(DESTDIR)$(CNIDIR)/shunt-cni $(DESTDIR)$(MANDIR)/man8/shunt.8 \
		$(DESTDIR)$(BASHCOMPDIR)/shunt $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
		$(patsubst %,$(DESTDIR)$(DATADIR)/shunt/hooks.d/shunt-%.json,$(HOOK_STAGES))
	$(Q)rmdir $(DESTDIR)$(DATADIR)/shunt/hooks.d $(DESTDIR)$(DATADIR)/shunt 2>/dev/null || true
	$(Q)for f in endpoints.json cgroups vms; do cmp -s scripts/etc/$$f $(DESTDIR)$(SYSCONFDIR)/shunt/$$f && \
		rm -f $(DESTDIR)$(SYSCONFDIR)/shunt/$$f; done; rmdir $(DESTDIR)$(SYSCONFDIR)/shunt 2>/dev/null || true
	$(Q)cmp -s scripts/etc/default $(DESTDIR)$(SYSCONFDIR)/default/shunt && \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/shunt || true

# make deb: a binary package of `make install` with Debian's paths, built
# with dpkg-deb (no debian/ source package: nothing here needs one).
DEB_VERSION = $(shell echo "$(VERSION)" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g/+\1.g/' -e 's/-dirty$$/.dirty/' -e 's/^\([^0-9]\)/0.0+\1/')
DEB_ARCH    = $(shell dpkg --print-architecture)
deb: all
	$(Q)rm -rf $(OUTPUT)/deb $(OUTPUT)/shunt_*.deb && mkdir -p $(OUTPUT)/deb/root/DEBIAN
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(abspath $(OUTPUT))/deb/root PREFIX=/usr \
		UNITDIR=/lib/systemd/system CNIDIR=/usr/lib/cni SYSCONFDIR=/etc
	$(Q)printf '%s\n' /etc/shunt/endpoints.json /etc/shunt/cgroups /etc/shunt/vms /etc/default/shunt > $(OUTPUT)/deb/root/DEBIAN/conffiles
	$(Q)deps=$$(bash scripts/deb-depends.sh $(OUTPUT)/shunt $(OUTPUT)/shunt-cni) && \
	printf 'Package: shunt\nVersion: %s\nArchitecture: %s\nMaintainer: shunt developers <shunt@localhost>\nDepends: %s\nRecommends: bpftool, iproute2\nSection: net\nPriority: optional\nHomepage: https://example.invalid/shunt\nDescription: TCP between partitions of one host without the network stack\n shunt redirects established TCP connections between network namespaces,\n containers and VMs of one host straight into the peer socket with eBPF\n (sock_ops, sk_msg, sockhash), when both ends are registered endpoints.\n' \
		"$(DEB_VERSION)" "$(DEB_ARCH)" "$$deps" > $(OUTPUT)/deb/root/DEBIAN/control
	$(Q)dpkg-deb --root-owner-group --build $(OUTPUT)/deb/root $(OUTPUT)/shunt_$(DEB_VERSION)_$(DEB_ARCH).deb >/dev/null
	$(call msg,DEB,$(OUTPUT)/shunt_$(DEB_VERSION)_$(DEB_ARCH).deb)

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

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
PURE_SRCS := user/lib/endpoint.c user/lib/args.c user/lib/error.c user/lib/oci.c
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	     -fno-sanitize-recover=all -Wall -Wextra -Werror -Iinclude -Iuser/lib
ASAN_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/%,$(UNIT_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

# The version: a VERSION file (source tarballs), else git describe.
VERSION := $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo unknown)

.PHONY: all clean test demo deps fuzz bench vmtest FORCE
.DELETE_ON_ERROR:

# Rebuilt variants of shunt that t_upgrade upgrades a running instance to:
# SHUNT_REBUILD=1 changes code and adds a map, =2 changes a map's layout.
REBUILDS := $(OUTPUT)/rebuild1/shunt $(OUTPUT)/rebuild2/shunt

all: $(OUTPUT)/shunt $(OUTPUT)/shunt-cni $(OUTPUT)/shunt.bpf.o $(OUTPUT)/shunt-traffic $(OUTPUT)/shunt-bench $(UNIT_BINS) \
     $(ASAN_BINS) $(FUZZ_BINS) $(REBUILDS) $(OUTPUT)/tests/vsock_probe.bpf.o $(OUTPUT)/vsock-probe

$(OUTPUT)/rebuild%/shunt: bpf/shunt.bpf.c $(HDRS) $(LIB_SRCS) $(CLI_SRCS) $(OUTPUT)/vmlinux.h
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
$(OUTPUT)/shunt.bpf.o: bpf/shunt.bpf.c $(HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/shunt-cli.bpf.o: bpf/shunt.bpf.c $(HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
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

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

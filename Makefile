# SPDX-License-Identifier: GPL-2.0
# memleak: one Makefile for the tool, its BPF programs, plugin, tests and docs.
#
#   make            build ./memleak
#   make check      install dependencies, build, run every test (needs root, BPF)
#   make demo       install dependencies, build, run memleak on a leaky example
#   make install    PREFIX=/usr/local DESTDIR=

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man

CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
OUT        := build

CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	      -DMEMLEAK_VERSION='"$(VERSION)"' \
	      -I. -Ilib -Ibpf -I$(OUT) $(shell pkg-config --cflags libtracefs libtraceevent 2>/dev/null)
LDLIBS     += -lbpf -ltracefs -ltraceevent -ldw -lelf -lz -lstdc++ -lcapstone

# record/report/plugin: trace.dat input (libtracecmd), the libtraceevent
# plugin, bash completion; installed by "make install".  The plugin goes
# where libtraceevent looks for plugins (not under PREFIX); PLUGINDIR=...
# to change it.
CFLAGS     += $(shell pkg-config --cflags libtracecmd 2>/dev/null)
LDLIBS     += $(shell pkg-config --libs libtracecmd 2>/dev/null || echo -ltracecmd) -lm
PLUGIN     := $(OUT)/plugin_memleak.so
PLUGINDIR  ?= $(firstword $(wildcard /usr/lib/*-linux-gnu/traceevent/plugins) $(PREFIX)/lib/traceevent/plugins)
COMPLDIR   := $(PREFIX)/share/bash-completion/completions

ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(OUT) -Ibpf -Wall

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

LIB_SRCS   := $(wildcard lib/*/*.c)
LIB_OBJS   := $(patsubst %.c,$(OUT)/%.o,$(LIB_SRCS))
CMD_SRCS   := $(wildcard subcmd/*.c)
CMD_OBJS   := $(patsubst %.c,$(OUT)/%.o,$(CMD_SRCS))

UNIT_SRCS  := $(wildcard tests/unit/test-*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

PRELOAD    := $(OUT)/libmemleak-preload.so
PRELOADDIR := $(PREFIX)/lib/memleak

all: memleak $(PLUGIN) $(PRELOAD)

# The preload library memleak -c puts in LD_PRELOAD: frame pointers for its
# own stack walk, initial-exec TLS (no allocation on first use), sibling
# calls and no PLT (its malloc and free jump to libc's).
$(PRELOAD): preload/memleak-preload.c preload/memleak-preload.h bpf/memleak.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fPIC -shared -fno-omit-frame-pointer -fvisibility=hidden \
		-ftls-model=initial-exec -fno-plt -Wall -Wextra \
		-Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -I. -Ibpf $< \
		-o $@ -ldl -lpthread -lgcc_s -lm

# record/report/plugin
$(PLUGIN): plugin/plugin_memleak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $< -o $@ $(shell pkg-config --libs libtraceevent 2>/dev/null || echo -ltraceevent)

$(OUT)/vmlinux.h:
	@mkdir -p $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h $(OUT)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUT)/%.o: %.c $(SKELS) $(wildcard lib/*/*.h subcmd/*.h bpf/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

memleak: $(CMD_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests link the library objects they need, never the subcommands.
$(OUT)/tests/test-%: tests/unit/test-%.c $(LIB_OBJS) tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

# the preload library's pure logic, in a header of its own
$(OUT)/tests/test-preload: preload/memleak-preload.h

unit-tests: $(UNIT_BINS)

deps:
	@bash scripts/install-deps.sh

check: deps
	$(MAKE) all unit-tests
	bash tests/run.sh

demo: deps
	$(MAKE) all
	bash scripts/demo.sh

install: memleak $(PLUGIN) $(PRELOAD)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PRELOADDIR)
	install -m 644 $(PRELOAD) $(DESTDIR)$(PRELOADDIR)/libmemleak-preload.so
	install -m 755 memleak $(DESTDIR)$(BINDIR)/memleak
	ln -sf memleak $(DESTDIR)$(BINDIR)/perf-memleak
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 Documentation/*.1 $(DESTDIR)$(MANDIR)/man1/
	# record/report/plugin
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(COMPLDIR)
	install -m 644 $(PLUGIN) $(DESTDIR)$(PLUGINDIR)/plugin_memleak.so
	install -m 644 scripts/memleak-completion.bash $(DESTDIR)$(COMPLDIR)/memleak

clean:
	rm -rf $(OUT) memleak

.PHONY: all deps check demo install clean unit-tests
.DELETE_ON_ERROR:
.SECONDARY:

# bench: the cost per traced allocation (bench/bench.sh), memleak against
# heaptrack, valgrind, bpftrace and bcc on user-space workloads
# (bench/user.sh; BENCH_QUICK=1 for a smoke run of a few minutes), the
# kernel-mode overhead against bcc's memleak (bench/kernel.sh), the cost of
# an injection (bench/inject.sh) and millions of blocks over 50,000 stacks
# (bench/scale.sh); root, BPF.  Not a test: make check does not run it.
$(OUT)/mallocbench: bench/mallocbench.c bench/benchtime.c
	@mkdir -p $(OUT)
	$(CC) -g -O2 -fomit-frame-pointer -fno-optimize-sibling-calls -Wall \
		-D_GNU_SOURCE -pthread $^ -o $@

KBENCH_ARGS ?= $(if $(filter 1,$(BENCH_QUICK)),50000 1)
bench: memleak $(OUT)/mallocbench
	$(MAKE) -C tests/targets
	bash bench/bench.sh $(BENCH_ARGS)
	bash bench/user.sh
	bash bench/uprobe-pid.sh
	bash bench/kernel.sh $(KBENCH_ARGS)
	bash bench/inject.sh $(IBENCH_ARGS)
	bash bench/scale.sh $(SBENCH_ARGS)

# bench/inject.sh alone: the time an injection takes, a redirected malloc's cost
bench-inject: memleak
	$(MAKE) -C tests/targets
	bash bench/inject.sh $(IBENCH_ARGS)

.PHONY: bench bench-inject

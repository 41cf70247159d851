# zkfs build: every program into bin/, every test into build/tests/.
# `make` builds, `make test` runs all tests, `make deps` installs Debian packages.

CC       ?= cc
SANITIZE ?=
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
            -D_GNU_SOURCE -I. -MMD -MP
LDLIBS   += -lmsgpackc -lpthread
# Test helpers linked with Apache's C client are oracles, not our code: never sanitized.
ORACLE_CFLAGS := $(CFLAGS)
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
BUILD    := build/san
else
BUILD    := build/rel
endif

EVENT_LIBS := -levent -levent_pthreads
TEST_LIBS  := -lcmocka

COMMON_SRC := $(wildcard common/*.c)
CORE_SRC   := $(filter-out zkfsd/main.c zkfsd/logdump.c,$(wildcard zkfsd/*.c)) $(wildcard replication/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
# The client library (client/): the FUSE client's base; zkc_demo drives it in integration tests.
CLIENT_SRC := $(filter-out client/zkc_demo.c,$(wildcard client/*.c))
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
# zkfs-mount (fuse/): the FUSE driver over the client library.
FUSE_SRC   := $(wildcard fuse/*.c)
FUSE_OBJ   := $(FUSE_SRC:%.c=$(BUILD)/%.o)
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS  := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Test-only helpers linked against Apache ZooKeeper's C client (an oracle, never the product).
ZKC_SRC    := $(wildcard tests/integration/*.c)
ZKC_BIN    := $(ZKC_SRC:tests/integration/%.c=$(BUILD)/tests/%) $(BUILD)/tests/zkc_demo
BENCH_SRC  := $(filter-out tests/bench/zkcbench.c,$(wildcard tests/bench/*.c))
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/tests/%)

PROGS := bin/zkfsd bin/zkfs-logdump bin/zkfs-mount
# bin/ is shared by the plain and the sanitizer builds: relink when switching between them.
BUILD_MARK := bin/.build-$(notdir $(BUILD))

.PHONY: all test unit integration deps run bench clean format install sim
all: $(PROGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD_MARK):
	@mkdir -p bin
	@rm -f bin/.build-*
	@touch $@

bin/zkfsd: $(BUILD)/zkfsd/main.o $(CORE_OBJ) $(COMMON_OBJ) $(BUILD_MARK)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(EVENT_LIBS) $(LDLIBS)

bin/zkfs-mount: $(FUSE_OBJ) $(CLIENT_OBJ) $(COMMON_OBJ) $(BUILD_MARK)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(FUSE_LIBS) $(EVENT_LIBS) $(LDLIBS)

$(BUILD)/fuse/%.o: fuse/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUSE_CFLAGS) -c -o $@ $<

bin/zkfs-logdump: $(BUILD)/zkfsd/logdump.o $(CORE_OBJ) $(COMMON_OBJ) $(BUILD_MARK)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(EVENT_LIBS) $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(TEST_LIBS) $(EVENT_LIBS) $(LDLIBS)

$(BUILD)/tests/zkc_demo: $(BUILD)/client/zkc_demo.o $(CLIENT_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ORACLE_CFLAGS) -I/usr/include/zookeeper -o $@ $< -lzookeeper_mt $(LDLIBS)

# The mount benchmark's reference, on our own client library (not Apache's).
$(BUILD)/tests/zkcbench: $(BUILD)/tests/bench/zkcbench.o $(CLIENT_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ORACLE_CFLAGS) -I/usr/include/zookeeper -o $@ $< -lzookeeper_mt $(LDLIBS)

deps:
	@sh tests/deps.sh

# The test command: installs what is missing, builds, runs every test, ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(ZKC_BIN)
	@BUILD=$(BUILD) sh tests/run.sh

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) ONLY=unit sh tests/run.sh

# The ZAB simulator with many more seeds than make test gives it.
sim: $(BUILD)/tests/test_zab_sim
	ZAB_SIM_SEEDS=5000 $(BUILD)/tests/test_zab_sim

integration: all $(ZKC_BIN)
	@BUILD=$(BUILD) ONLY=integration sh tests/run.sh

# The run command: a standalone server on 127.0.0.1:2181 (data in ./zkfsd-data) mounted at ./zk.
run: deps
	@$(MAKE) --no-print-directory all
	@bash fuse/run-local.sh

# The client library's header and pkg-config file, and the programs; mount(8) runs
# /sbin/mount.fuse.zkfs for `mount -t fuse.zkfs` and fstab lines of that type.
PREFIX ?= /usr/local
install: all $(BUILD)/libzkc.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/zkfs/client $(DESTDIR)$(PREFIX)/include/zkfs/common
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	ln -sf zkfs-mount $(DESTDIR)$(PREFIX)/bin/zkfs
	install -d $(DESTDIR)/sbin
	ln -sf $(PREFIX)/bin/zkfs-mount $(DESTDIR)/sbin/mount.fuse.zkfs
	install -m 644 $(BUILD)/libzkc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 client/zkc.h $(DESTDIR)$(PREFIX)/include/zkfs/client/
	install -m 644 common/jute.h common/zerr.h $(DESTDIR)$(PREFIX)/include/zkfs/common/
	printf 'prefix=%s\nName: zkc\nDescription: zkfs ZooKeeper client library\nVersion: 0.1\nRequires.private: libevent\nCflags: -I$${prefix}/include/zkfs\nLibs: -L$${prefix}/lib -lzkc -levent -lpthread\n' $(PREFIX) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zkc.pc

$(BUILD)/libzkc.a: $(CLIENT_OBJ) $(COMMON_OBJ)
	$(AR) rcs $@ $^

# Side by side with Apache ZooKeeper; a zkfsd that does not build shows as "not available".
bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BIN) $(BUILD)/tests/zkcbench
	-@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/bench/run.sh
	@BUILD=$(BUILD) bash tests/bench/mount.sh
	@BUILD=$(BUILD) /usr/bin/python3 tests/bench/ensemble.py

format:
	clang-format -i $(wildcard common/*.[ch] zkfsd/*.[ch] client/*.[ch] replication/*.[ch] fuse/*.[ch] tests/*/*.c)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

# pydepot: the two commands are `make run` and `make test`. Each installs the Debian packages it
# needs (scripts/deps.sh), builds, and then runs the server or every test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= 2
STORAGE    ?= ./data
LISTEN     ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 600
# When make started (scripts/test.sh reports how long installing and building took).
MAKE_STARTED := $(shell date +%s)

.PHONY: all deps deps-test build build-asan build-tsan test run fuzz format format-check clean bench

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPYDEPOT_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# ThreadSanitizer, -O1 with line tables only (-g1: reports keep file:line, the build is a third
# faster): only the unit tests of the modules with threads (the hasher's helper threads, the
# credential cache, racing store writes, concurrent uploads, the handlers).
TSAN_TESTS = base_test auth_test storage_test index_test http_test upstream_test ops_test
build-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1' -DPYDEPOT_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)

# Every test: format check, unit tests (Release, ASan+UBSan, and TSan for the threaded
# modules), the differential test against Python's packaging, end-to-end tests with the real
# clients, a 60 s load test, and a short fuzzing run.
test: deps-test build build-asan build-tsan
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) TSAN_BUILD=$(TSAN_BUILD) BUILD_STARTED=$(MAKE_STARTED) \
	  scripts/test.sh

# The benchmark suite (bench/README.md): pydepot against nginx serving the same bytes, in about
# 10 minutes (the first run also generates the repositories into bench/.cache). Writes
# bench/REPORT.md, bench/report.svg and bench/results.json. BENCH_ARGS go to bench/run.sh.
bench: build
	@scripts/deps.sh bench
	@BENCH_BUILD=$(BUILD) BENCH_SKIP_BUILD=1 bench/run.sh $(BENCH_ARGS)

run: build
	@$(BUILD)/pydepot serve --storage $(STORAGE) --listen $(LISTEN)

# Long fuzzing runs (FUZZ_SECONDS per target).
fuzz: deps-test
	@scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz

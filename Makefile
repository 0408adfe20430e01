# pydepot: the two commands are `make run` and `make test`. Each installs the Debian packages it
# needs (scripts/deps.sh), builds, and then runs the server or every test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
STORAGE    ?= ./data
LISTEN     ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 600

.PHONY: all deps deps-test build build-asan test run fuzz format format-check clean

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

# Every test: format check, unit tests (Release and ASan+UBSan), the differential test against
# Python's packaging, end-to-end tests with the real clients, and a short fuzzing run.
test: deps-test build build-asan
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) scripts/test.sh

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
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

# The two commands a newcomer needs: `make demo` and `make test`. Both install missing
# Debian packages first, then configure and build with CMake.

DEBS := build-essential cmake pkg-config libcurl4-openssl-dev libxml2-dev libuv1-dev \
        uthash-dev libcmocka-dev libtelnet-dev libedit-dev libjansson-dev libxxhash-dev \
        zlib1g-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS := $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build

.PHONY: all deps build test test-fast test-asan demo bench fuzz install clean

all: build

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "silk: installing missing packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The whole suite, then again under AddressSanitizer + LeakSanitizer + UBSan, then every
# fuzz target for FUZZ_SECONDS (60) each, two at a time on two cores.
FUZZ_SECONDS ?= 60
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSILK_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

demo: build
	@bash spiders/demo.sh $(BUILD)/silk

bench: build
	@bash bench/run.sh $(BUILD)/silk

# Every libFuzzer target for FUZZ_SECONDS (default 60) each on a copy of its seed corpus,
# with ASan and UBSan; fails if any finds a crash. libFuzzer needs clang: without it this
# says so and succeeds, since gcc builds already replay the corpora in `make test`.
fuzz: deps
	@if ! command -v clang >/dev/null 2>&1; then \
	  echo "silk: make fuzz needs clang; skipped"; exit 0; \
	fi; \
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1; then \
	  echo "silk: make fuzz needs libFuzzer (libclang-rt-dev for this clang); skipped"; exit 0; \
	fi; \
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSILK_FUZZ=ON -DSILK_SANITIZE=ON -DSILK_BUILD_TESTS=OFF >/dev/null && \
	cmake --build build-fuzz -j $(JOBS) && \
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build-fuzz

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-fuzz

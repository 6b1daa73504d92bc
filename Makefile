# SPDX-License-Identifier: MIT
# The two commands of the README: `make run` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh), then configure and build with CMake presets.
.PHONY: run test test-sanitize build deps bench format tidy clean fuzz

JOBS ?= $(shell nproc)

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@./scripts/run-main.sh

test: build
	@ctest --preset release -j $(JOBS)

test-sanitize: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)
	@ctest --preset sanitize -j $(JOBS)

# Coverage-guided fuzzing of the hypercall interface (docs/fuzzing.md): clang + libFuzzer with
# ASan/UBSan, FUZZ_SECONDS long, from the committed seed corpus; new inputs go to
# build-fuzz/corpus, findings to build-fuzz/ (crash-*), executions and coverage to the terminal.
# FUZZ_SANITIZE=off: coverage instrumentation only (build-fuzz-fast/, several times faster), for
# long campaigns; the corpus directory is shared, so both builds continue the same corpus.
FUZZ_SECONDS ?= 60
FUZZ_SANITIZE ?= on
# FUZZ_JOBS=N: N libFuzzer workers on the shared corpus, each FUZZ_SECONDS long (logs: fuzz-N.log).
FUZZ_JOBS ?= 1
FUZZ_PARALLEL := $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS))
FUZZ_DIR := $(if $(filter off,$(FUZZ_SANITIZE)),build-fuzz-fast,build-fuzz)
fuzz:
	@./scripts/install-deps.sh --fuzz
	@cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
	  -DPIBOOSTER_FUZZ=ON -DPIBOOSTER_FUZZ_SANITIZE=$(if $(filter off,$(FUZZ_SANITIZE)),OFF,ON) \
	  -DPIBOOSTER_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) --target pibooster_fuzz -j $(JOBS)
	@mkdir -p build-fuzz/corpus
	@cd $(FUZZ_DIR) && ./fuzz/pibooster_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_PARALLEL) \
	  -max_len=512 -artifact_prefix=./ $(abspath build-fuzz/corpus) ../fuzz/corpus

# Google Benchmark cases (hot paths, host memory), then the ratio table: simulated operations
# against the same operations done for real here (bench/ratio_bench.cpp).
bench: build
	@./build/bench/pibooster_bench
	@./build/bench/pibooster_ratio

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

tidy: build
	@clang-tidy -p build --quiet $$(git ls-files 'src/*.cpp')

clean:
	@rm -rf build build-sanitize build-fuzz build-fuzz-fast

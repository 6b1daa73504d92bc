# SPDX-License-Identifier: MIT
# The two commands of the README: `make run` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh), then configure and build with CMake presets.
.PHONY: run test test-sanitize build deps bench format tidy clean

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

bench: build
	@./build/bench/pibooster_bench

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

tidy: build
	@clang-tidy -p build --quiet $$(git ls-files 'src/*.cpp')

clean:
	@rm -rf build build-sanitize

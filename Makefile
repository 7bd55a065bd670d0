# Speezy's front door. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
BUILD ?= build
BUILD_SAN ?= build-san
BUILD_FUZZ ?= build-fuzz
JOBS ?= $(shell nproc)
SPEEZY := $(BUILD)/speezy

.PHONY: all deps build build-san run stop test test-unit test-lua test-api test-valgrind fuzz bench migrate check format lint clean

all: build

deps: ## install missing Debian (and npm) packages; idempotent
	@spec/tools/deps.sh

build: deps ## compile build/speezy
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-san: deps ## ASan + UBSan build of the binary and the C unit tests
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DSPEEZY_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)

run: build ## local PostgreSQL + Redis (unless configured), migrations, serve on :4000
	@spec/tools/run.sh

stop: ## stop what `make run` started
	@spec/tools/servers.sh stop .run

test: build build-san ## every test against real servers; ends with "N passed, N failed"
	@spec/run

test-valgrind: build ## C unit tests + reload/admin/PostgreSQL-down API specs under valgrind memcheck
	@spec/tools/valgrind.sh

fuzz: deps ## run the fuzzers for a long time (FUZZ_SECONDS, default 600)
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DSPEEZY_FUZZ=ON -DSPEEZY_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)
	@spec/fuzz/run.sh $(BUILD_FUZZ) $${FUZZ_SECONDS:-600}

bench: build ## wrk against speezy and the Node stack side by side
	@spec/bench/run.sh

migrate: build ## apply pending migrations to DATABASE_URL
	@$(SPEEZY) migrate

check: build ## load scripts/ as a reload would, without serving
	@$(SPEEZY) check

format: ## clang-format the C sources in place
	@clang-format -i host/*.c host/*.h host/bind/*.c host/bind/*.h spec/unit/*.c spec/unit/*.h spec/fuzz/*.c spec/fuzz/*.h

lint: ## clang-format check + luacheck
	@clang-format --dry-run --Werror host/*.c host/*.h host/bind/*.c host/bind/*.h spec/unit/*.c spec/unit/*.h spec/fuzz/*.c spec/fuzz/*.h
	@luacheck -q scripts host/lib spec

clean:
	@rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)

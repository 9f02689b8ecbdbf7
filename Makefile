# Lathe: `make run` to start a server, `make test` to run every test. Both install what is missing.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
DATA_DIR ?= ./lathe-data
PYTHON ?= /usr/bin/python3

.PHONY: all deps build run test unit-test api-test test-venv clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

run: build
	$(BUILD_DIR)/lathe server --data-dir $(DATA_DIR)

unit-test: build
	@scripts/run-tests.sh unit

test-venv:
	@scripts/setup-test-venv.sh

api-test: build test-venv
	@scripts/run-tests.sh api

test: build test-venv
	@scripts/run-tests.sh all

clean:
	rm -rf $(BUILD_DIR)

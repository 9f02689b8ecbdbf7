# Lathe: `make run` to start a server, `make test` to run every test. Both install what is missing.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
DATA_DIR ?= ./lathe-data
PYTHON ?= /usr/bin/python3

.PHONY: all deps build ui run test unit-test api-test ui-test test-venv clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

# The web UI (web/): npm ci when the lock file changes, vite build when a source changes.
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -type f -print 2>/dev/null)

web/node_modules/.ci-stamp: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.ci-stamp $(WEB_SOURCES)
	cd web && npm run --silent build
	@touch $@

ui: deps web/dist/index.html

build: deps $(BUILD_DIR)/build.ninja ui
	cmake --build $(BUILD_DIR)

run: build
	$(BUILD_DIR)/lathe server --data-dir $(DATA_DIR)

unit-test: build
	@scripts/run-tests.sh unit

test-venv:
	@scripts/setup-test-venv.sh

api-test: build test-venv
	@scripts/run-tests.sh api

ui-test: build
	@scripts/run-tests.sh ui

test: build test-venv
	@scripts/run-tests.sh all

clean:
	rm -rf $(BUILD_DIR) web/dist

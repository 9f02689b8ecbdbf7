#!/usr/bin/env bash
# Installs every system package Lathe needs to build, run, test and benchmark (Debian 12, as root).
# Idempotent and fast when everything is already there: apt-get runs only for what is missing.
set -euo pipefail

PACKAGES=(
    # toolchain
    build-essential cmake ninja-build pkg-config git ca-certificates
    # C++ libraries (Debian's default Boost 1.74: Asio + Beast; JSON from nlohmann)
    libboost-dev libboost-system-dev nlohmann-json3-dev libsqlite3-dev libsodium-dev
    libyaml-cpp-dev libgtest-dev libcurl4-openssl-dev libhowardhinnant-date-dev
    # workloads: the sandbox, and the interpreters of the python3, r and bash kernels
    bubblewrap python3 r-base-core bash
    # tests and tools (Chromium: the UI's browser tests drive it through playwright-core)
    python3-pytest python3-venv sqlite3 curl wrk procps chromium
)
# The web UI is built with Node.js and npm: Debian's, unless a Node.js is already installed
# (e.g. from NodeSource, which bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: node is installed but npm is not: install npm for your Node.js" >&2
    exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or install them yourself) and try again" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A stale or empty package list makes installs fail with 'Unable to locate package'.
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

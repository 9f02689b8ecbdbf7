#!/usr/bin/env bash
# Installs what the benchmarks need: wrk and a bench/.venv holding the peers (MLflow, FastAPI/uvicorn,
# Flask/gunicorn, scikit-learn) from requirements.txt.
# Idempotent: a second run with unchanged requirements.txt only checks and exits.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv"
REQUIREMENTS="$BENCH_DIR/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-/usr/bin/python3}"

die() {
    echo "bench/setup.sh: $*" >&2
    exit 1
}

apt_install() {
    # Debian packages are only installed when missing, and only as root (never sudo behind the user's back).
    if [[ "$(id -u)" != 0 ]]; then
        die "missing Debian package(s) $*; run: sudo apt-get install -y $*"
    fi
    echo "bench/setup.sh: installing $* with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

[[ -x "$PYTHON" ]] || die "$PYTHON not found; install Debian's python3 or set PYTHON=/path/to/python3"

if ! command -v wrk >/dev/null 2>&1; then
    apt_install wrk
fi

# Debian splits venv/ensurepip into python3-venv; without it `python3 -m venv` fails half-way.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_install python3-venv
fi

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/mlflow" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "bench/setup.sh: $VENV is up to date" >&2
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
"$VENV/bin/mlflow" --version >/dev/null || die "mlflow did not install into $VENV"
# serving/serving_bench.py's peers and model: uvicorn must find uvloop and httptools, or it falls back
# to asyncio and h11 (several times slower) without a word.
"$VENV/bin/python" -c 'import fastapi, uvicorn, uvloop, httptools, flask, gunicorn, sklearn, pandas' ||
    die "the serving benchmark's packages did not install into $VENV"
echo "$want" >"$STAMP"
echo "bench/setup.sh: installed $("$VENV/bin/mlflow" --version) into $VENV" >&2

#!/bin/sh
# Admission throughput and memory of compute::AdmissionQueue, against a floor (admission_bench.cc).
# Compiles the benchmark with g++ against src/compute/admission.cc alone (it has no other
# dependency), then runs it; arguments are passed on (--workloads, --users, --repeats, --passes).
# Progress on stderr; stdout gets one markdown table.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${ADMISSION_BENCH_BIN:-/tmp/admission_bench}
cxx=${CXX:-g++}
cd "$repo"
echo "[bench] compiling $out" >&2
"$cxx" -std=c++2b -O2 -I src bench/compute/admission_bench.cc src/compute/admission.cc -o "$out"
exec "$out" "$@"

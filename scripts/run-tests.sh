#!/usr/bin/env bash
# Runs the test suites and prints one summary line per suite: unit (GoogleTest via ctest) and api
# (pytest against a real server), runtime (the Python model worker and SDK, pytest), ui (Vitest
# for the web UI's logic, then tests/ui: Chromium driving the UI of a real server).
# Usage: run-tests.sh [unit|api|runtime|ui|all]
set -uo pipefail
cd "$(dirname "$0")/.."
which_suites=${1:-all}
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export LATHE_BIN=${LATHE_BIN:-$PWD/$BUILD_DIR/lathe}

summary=()
failed=0

run_unit() {
    local log
    log=$(mktemp)
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests failed' "$log" | tail -1)
    summary+=("unit: ${line:-no result} (exit $rc)")
    rm -f "$log"
    return $rc
}

run_api() {
    local log
    log=$(mktemp)
    "$PYTHON" -m pytest tests/api 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
    summary+=("api: ${line:-no result} (exit $rc)")
    rm -f "$log"
    return $rc
}

run_runtime() {
    local log
    log=$(mktemp)
    "$PYTHON" -m pytest tests/runtime 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
    summary+=("runtime: ${line:-no result} (exit $rc)")
    rm -f "$log"
    return $rc
}

run_ui() {
    local started=$SECONDS log rc=0 vitest_rc e2e_rc
    log=$(mktemp)
    if [ ! -f web/dist/index.html ] || [ ! -d web/node_modules ]; then
        summary+=("ui: not run: the UI is not built (run 'make build') (exit 1)")
        rm -f "$log"
        return 1
    fi
    (cd web && NO_COLOR=1 npx --no-install vitest run 2>&1) | tee "$log"
    vitest_rc=${PIPESTATUS[0]}
    local vitest_line
    # CI=true makes vitest colour its output even into a pipe: drop the escapes before reading.
    vitest_line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +[0-9]+' | tail -1 | sed -E 's/^ +Tests +//')
    : >"$log"
    BUILD_DIR="$BUILD_DIR" node --test --test-reporter=tap tests/ui/*.test.mjs 2>&1 | tee "$log"
    e2e_rc=${PIPESTATUS[0]}
    local pass fail
    pass=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
    fail=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
    [ "$vitest_rc" -eq 0 ] && [ "$e2e_rc" -eq 0 ] || rc=1
    summary+=("ui: vitest ${vitest_line:-no result}; browser ${pass:-?} passed, ${fail:-?} failed; $((SECONDS - started)) s (exit $rc)")
    rm -f "$log"
    return $rc
}

if [ "$which_suites" = unit ] || [ "$which_suites" = all ]; then
    run_unit || failed=1
fi
if [ "$which_suites" = runtime ] || [ "$which_suites" = all ]; then
    run_runtime || failed=1
fi
if [ "$which_suites" = api ] || [ "$which_suites" = all ]; then
    run_api || failed=1
fi
if [ "$which_suites" = ui ] || [ "$which_suites" = all ]; then
    run_ui || failed=1
fi

echo
echo "== test summary =="
for s in "${summary[@]}"; do
    echo "$s"
done
exit $failed

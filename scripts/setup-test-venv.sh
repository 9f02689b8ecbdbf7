#!/usr/bin/env bash
# Creates tests/.venv with the pinned reference implementations the tests compare against
# (tests/requirements*.txt). Idempotent: does nothing when the requirements haven't changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=tests/.venv
stamp=$venv/.requirements.sha256
want=$(cat tests/requirements.txt tests/requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    exit 0
fi
echo "setup-test-venv: installing tests/requirements.txt into $venv"
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r tests/requirements-nodeps.txt
echo "$want" > "$stamp"
echo "setup-test-venv: done"

"""Validates OpenLineage events against the OpenLineage core schema kept in
tests/data/openlineage (Draft 2020-12, with format checking: date-time, uri, uuid); run with
tests/.venv/bin/python (scripts/setup-test-venv.sh). Reads a JSON list of events on stdin and
prints {"schema": <its $id>, "errors": [[event index, path, message], ...]}; exits 2 when the
schema file is missing."""

import json
import sys
from pathlib import Path

import jsonschema
from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "openlineage" / "OpenLineage-2-0-2.json"


def main():
    if not SCHEMA.exists():
        print(json.dumps({"schema": None, "errors": [[None, "", f"{SCHEMA} is missing"]]}))
        return 2
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    checker = Draft202012Validator.FORMAT_CHECKER
    # The checks the schema relies on must really run, not pass for want of a library.
    missing = {"date-time", "uri", "uuid"} - set(checker.checkers)
    if missing:
        print(json.dumps({"schema": schema.get("$id"),
                          "errors": [[None, "", f"no format checker for {sorted(missing)}"]]}))
        return 2
    validator = Draft202012Validator(schema, format_checker=checker)
    errors = []
    for i, event in enumerate(json.load(sys.stdin)):
        for e in sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path)):
            errors.append([i, "/".join(str(p) for p in e.absolute_path), e.message])
    print(json.dumps({"schema": schema.get("$id"), "jsonschema": jsonschema.__version__,
                      "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

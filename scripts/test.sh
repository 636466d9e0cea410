#!/usr/bin/env bash
# Set up (scripts/setup.sh test) and run every check: ruff, mypy, then the whole pytest suite three
# times: on today's clock, and with the test process's wall clock moved while time flows (a
# weekday a year ahead, and two minutes before midnight) so no test depends on the date it runs
# (those runs leave out the tests marked travel_free, which the date cannot change: tests/conftest.py).
# Arguments go to each pytest run (e.g. a test file, -k EXPR, -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
for when in year-ahead before-midnight; do
  echo "--- the suite again with the wall clock moved: --travel $when"
  .venv/bin/python -m pytest -q --travel "$when" "$@"
done

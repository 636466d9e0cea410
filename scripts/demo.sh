#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: the whole system, a branch's devices, the centre and its
# dashboard, with simulated customers (docs/demo.md). The one-process branch: counterside demo-branch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh centre  # the devices' packages and the centre's dashboard
exec .venv/bin/counterside demo "$@"

#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: a simulated branch on the embedded default config.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh runtime
exec .venv/bin/counterside demo "$@"

#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian / Raspberry Pi OS machine:
#   1. Debian packages the project needs (installed when run as root, otherwise listed for you);
#   2. a virtual environment in .venv with the locked Python packages and counterside itself.
# Usage: scripts/setup.sh [runtime|centre|test]  (default: runtime; centre: the central office's
# server, with PostgreSQL support and the dashboard). Safe to run again: it skips whatever is
# already in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile="${1:-runtime}"
PYTHON="${PYTHON:-python3}"

# --- Debian packages: "check command|package" pairs ------------------------------------------
debs=(
  "$PYTHON -c 'import venv, ensurepip'|python3-venv"
  "$PYTHON -c 'import sqlite3'|python3"
  "command -v mosquitto|mosquitto"
  "command -v openssl|openssl"
  "command -v espeak-ng|espeak-ng"
  "command -v aplay|alsa-utils"
  "test -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc|fonts-wqy-zenhei"
)
# the tests run the centre on PostgreSQL too, in a throwaway cluster of their own (tests/postgres_server.py)
[ "$profile" = test ] && debs+=("compgen -G '/usr/lib/postgresql/*/bin/initdb'|postgresql")
# the tests check every shipped unit with systemd-analyze verify (tests/test_systemd_units.py)
[ "$profile" = test ] && debs+=("command -v systemd-analyze|systemd")
# the dashboard's end-to-end tests drive Debian's Chromium headless (Playwright, the system browser)
[ "$profile" = test ] && debs+=("command -v chromium|chromium")
# bench centre_ingest captures the stream with mosquitto_sub, its baseline
[ "$profile" = test ] && debs+=("command -v mosquitto_sub|mosquitto-clients")
missing=()
for pair in "${debs[@]}"; do
  check="${pair%%|*}"; pkg="${pair##*|}"
  eval "$check" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: counterside needs Python 3.11 or newer, {sys.executable} is {sys.version.split()[0]}")
PY

# --- Python packages --------------------------------------------------------------------------
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
extras=""
[ "$profile" = test ] && extras="[test]"
[ "$profile" = centre ] && extras="[postgresql,web]"  # the centre's server (install-pi.sh centre)
stamp=".venv/.counterside-$profile"
want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".$extras"
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# The central dashboard on a simulated branch: sets up (with the web extra), simulates this
# morning at a branch (counterside demo), imports its events into a new central store, adds a
# central-office user with a fresh password and serves the dashboard. Open the address it prints
# and sign in with the name and password it prints. Options go to `counterside centre web`
# (e.g. --port 8081). Data: var/dashboard-demo/ (made again at each run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh centre
dir=var/dashboard-demo
rm -rf "$dir" && mkdir -p "$dir"
.venv/bin/counterside demo --customers 40 --db "$dir/device.sqlite" > "$dir/demo.txt"
.venv/bin/counterside centre import "$dir/device.sqlite" --db "$dir/centre.sqlite" --branch demo-branch
password="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')"
printf '%s\n' "$password" | .venv/bin/counterside centre user add demo --role central \
    --password-stdin --db "$dir/centre.sqlite"
echo "dashboard-demo: sign in as demo with the password $password"
exec .venv/bin/counterside centre web --db "$dir/centre.sqlite" "$@"

#!/usr/bin/env bash
# Install counterside on a Raspberry Pi 4/5 (Raspberry Pi OS bookworm, arm64, no desktop) for its
# roles, as root, from a checkout of this repository:
#
#   sudo bash scripts/install-pi.sh counter            # one counter: pad, keys, LED display, voice
#   sudo bash scripts/install-pi.sh controller board   # a controller that shows the hall board: the
#                                                      # board app runs the queue service itself
#   sudo bash scripts/install-pi.sh centre             # the central office's ingest (its server)
#
# Roles: counter, kiosk, board, controller (the branch queue service; also installs the branch's
# Mosquitto broker), centre. It installs the Debian packages (Python, the CJK font, espeak-ng,
# ALSA; mosquitto on a controller), the system user `counterside`, the code in /opt/counterside
# with its virtual environment (the locked packages: every one pure Python or with arm64
# wheels), the systemd units of the roles (Type=notify, watchdog: systemd/README.md), the
# configuration skeleton in /etc/counterside (kept if present) and the state directory
# /var/lib/counterside; then enables the roles' units. Run it again to upgrade (docs/deploy.md):
# it replaces the code and the units, never the configuration or the data.
#
# Options (environment): COUNTERSIDE_PREFIX (default /opt/counterside), COUNTERSIDE_NO_START=1
# (enable but do not start: an image being prepared, or a chroot).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${COUNTERSIDE_PREFIX:-/opt/counterside}"
etc=/etc/counterside
state=/var/lib/counterside

usage() { echo "usage: sudo bash scripts/install-pi.sh ROLE... (counter kiosk board controller centre)" >&2; exit 2; }
[ "$#" -ge 1 ] || usage
for role in "$@"; do
  case "$role" in counter|kiosk|board|controller|centre) ;; *) echo "install-pi: unknown role '$role'" >&2; usage ;; esac
done
[ "$(id -u)" = 0 ] || { echo "install-pi: run as root (sudo)" >&2; exit 1; }
has_role() { local r; for r in "${@:2}"; do [ "$r" = "$1" ] && return 0; done; return 1; }
say() { echo "install-pi: $*"; }

# --- Debian packages ---------------------------------------------------------------------------
debs=(python3 python3-venv ca-certificates openssl fonts-wqy-zenhei)
if has_role counter "$@" || has_role kiosk "$@" || has_role board "$@"; then
  # voice (espeak-ng, aplay) and the display: pygame's wheel brings its own SDL; KMS/DRM needs
  # the kernel's vc4 driver (Raspberry Pi OS default) and the user in the video/render groups
  debs+=(espeak-ng alsa-utils libdrm2 libgbm1)
fi
has_role controller "$@" && debs+=(mosquitto mosquitto-clients)
missing=()
for deb in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "ok installed" || missing+=("$deb"); done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- the service user ----------------------------------------------------------------------------
if ! id counterside >/dev/null 2>&1; then
  useradd --system --home-dir "$state" --no-create-home --shell /usr/sbin/nologin counterside
  say "user counterside created"
fi
groups=()
for g in video render input audio gpio dialout lp; do getent group "$g" >/dev/null && groups+=("$g"); done
if ((${#groups[@]})); then usermod -a -G "$(IFS=,; echo "${groups[*]}")" counterside; fi

# --- the code and its virtual environment ----------------------------------------------------------
if [ "$here" != "$prefix" ]; then
  say "copying the code to $prefix"
  # an upgrade replaces the code: files the new release no longer has must not linger
  if [ -d "$prefix" ]; then
    find "$prefix" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
  fi
  mkdir -p "$prefix"
  # the code only: never this checkout's virtual environment, data or caches
  tar -C "$here" --exclude=./.venv --exclude=./var --exclude=./.git --exclude='*/__pycache__' \
    --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.pytest_cache -cf - . |
    tar -C "$prefix" -xf -
fi
profile=runtime
has_role centre "$@" && profile=centre
bash "$prefix/scripts/setup.sh" "$profile"
chown -R root:root "$prefix"
"$prefix/.venv/bin/python" -m compileall -q -x '/\.venv/' "$prefix" >/dev/null || true  # the service user cannot write here

# --- configuration and state ----------------------------------------------------------------------
install -d -m 0750 -o root -g counterside "$etc" "$etc/tls"
install -d -m 0750 -o counterside -g counterside "$state"
if has_role counter "$@" || has_role kiosk "$@" || has_role board "$@" || has_role controller "$@"; then
  if [ ! -e "$etc/counterside.toml" ]; then
    install -m 0640 -o root -g counterside "$prefix/config/examples/branch-example.toml" "$etc/counterside.toml"
    say "$etc/counterside.toml: an example to edit (device_id, branch, counters; docs/configuration.md)"
  fi
fi
if has_role centre "$@" && [ ! -e "$etc/centre.env" ]; then
  install -m 0640 -o root -g counterside "$prefix/systemd/centre.env.example" "$etc/centre.env"
  say "$etc/centre.env: an example to edit (database, broker)"
fi
if has_role centre "$@" && [ ! -e "$etc/centre.toml" ]; then
  install -m 0640 -o root -g counterside "$prefix/config/examples/centre-example.toml" "$etc/centre.toml"
  say "$etc/centre.toml: an example to edit (branches, regions, targets; docs/centre.md)"
fi

# --- systemd units ---------------------------------------------------------------------------------
units=()
screen=0
if has_role kiosk "$@" || has_role board "$@"; then screen=1; fi
for role in "$@"; do
  install -m 0644 "$prefix/systemd/counterside-$role.service" /etc/systemd/system/
  # a controller with a kiosk or board screen: that app runs the queue service (one process per
  # device holds its MQTT identity and store), so the headless controller unit stays off
  if [ "$role" = controller ] && [ "$screen" = 1 ]; then continue; fi
  units+=("counterside-$role.service")
  if [ "$role" = centre ]; then  # and its dashboard, over the same database
    install -m 0644 "$prefix/systemd/counterside-centre-web.service" /etc/systemd/system/
    units+=("counterside-centre-web.service")
  fi
done
if [ "$screen" = 1 ] && has_role controller "$@"; then
  systemctl disable counterside-controller.service >/dev/null 2>&1 || true
fi
install -D -m 0644 "$prefix/systemd/systemd-time-wait-sync.service.d/counterside.conf" \
  /etc/systemd/system/systemd-time-wait-sync.service.d/counterside.conf
booted=0
[ -d /run/systemd/system ] && booted=1
[ "$booted" = 1 ] && systemctl daemon-reload
systemctl enable systemd-time-wait-sync.service "${units[@]}" >/dev/null 2>&1 ||
  systemctl enable "${units[@]}"
fresh_centre=0
if has_role centre "$@" && grep -q "example-bank" "$etc/centre.env"; then fresh_centre=1; fi
if [ "$fresh_centre" = 1 ]; then
  say "$etc/centre.env still holds the example: edit it (and $etc/centre.toml), then: systemctl start counterside-centre"
fi
if [ "$booted" = 1 ] && [ "${COUNTERSIDE_NO_START:-0}" != 1 ] && [ "$fresh_centre" = 0 ]; then
  systemctl restart "${units[@]}"
  say "started ${units[*]} (journalctl -u ${units[0]} -f)"
else
  say "enabled ${units[*]}; they start at the next boot"
fi
say "done: $prefix for ${*}; certificates go in $etc/tls (docs/security.md)"

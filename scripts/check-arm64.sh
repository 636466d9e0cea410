#!/usr/bin/env bash
# Show that counterside installs and runs on Raspberry Pi OS (bookworm, arm64) without a Pi: build a
# bookworm arm64 root file system with debootstrap, run it through qemu-user-static (binfmt_misc),
# run scripts/install-pi.sh counter in it, and run scripts/arm64_smoke.py there: the counter app
# draws frames with Chinese text, its store appends, and its events sync to a broker and a centre
# started here on the host (shared network: the chroot reaches 127.0.0.1).
#
#   sudo bash scripts/check-arm64.sh [ROOTFS]     (default: var/arm64/rootfs; kept for the next run)
#
# Needs root and Debian's debootstrap, qemu-user-static and binfmt-support (installed when missing),
# and the test set-up of this checkout (scripts/setup.sh test) for the host's broker and centre.
# Slow (emulated): not in CI. Each step prints its time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
root="${1:-var/arm64/rootfs}"
mkdir -p "$(dirname "$root")"
root="$(cd "$(dirname "$root")" && pwd)/$(basename "$root")"
[ "$(id -u)" = 0 ] || { echo "check-arm64: run as root" >&2; exit 1; }
step_start=$SECONDS
step() { echo "check-arm64: [$((SECONDS - step_start)) s] $*"; }

# --- the emulator ----------------------------------------------------------------------------------
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static binfmt-support)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
bash scripts/setup.sh test >/dev/null

# --- the root file system ----------------------------------------------------------------------------
if [ ! -x "$root/usr/bin/apt-get" ]; then
  step "debootstrap bookworm arm64 into $root"
  # minbase has no systemd (Raspberry Pi OS has): the install enables units with systemctl
  debootstrap --arch=arm64 --variant=minbase --include=systemd bookworm "$root" \
    http://deb.debian.org/debian >/dev/null
fi
mounts=(proc sys dev dev/pts)
cleanup() {
  local m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m="$root/${mounts[$i]}"; mountpoint -q "$m" && umount -l "$m"
  done
  [ -n "${centre_pid:-}" ] && kill "$centre_pid" 2>/dev/null
  [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
mount -t proc proc "$root/proc"; mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the host's own certificate authorities (e.g. of a proxy that inspects TLS), for apt and pip
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
fi
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
in_root sh -c 'command -v systemctl >/dev/null || (apt-get update -qq && apt-get install -y -qq systemd >/dev/null)'
in_root sh -c 'command -v update-ca-certificates >/dev/null || apt-get install -y -qq ca-certificates >/dev/null; update-ca-certificates >/dev/null'
step "root file system ready: $(in_root uname -m), $(in_root sh -c '. /etc/os-release; echo $PRETTY_NAME')"

# --- the install ---------------------------------------------------------------------------------------
rm -rf "$root/opt/src-counterside" && mkdir -p "$root/opt/src-counterside"
tar -C "$repo" --exclude=./.venv --exclude=./var --exclude=./.git --exclude='*/__pycache__' \
  --exclude=./.mypy_cache --exclude=./.ruff_cache --exclude=./.pytest_cache -cf - . |
  tar -C "$root/opt/src-counterside" -xf -
step "scripts/install-pi.sh counter"
in_root env COUNTERSIDE_NO_START=1 bash /opt/src-counterside/scripts/install-pi.sh counter
in_root systemctl is-enabled counterside-counter.service
step "installed"

# --- a broker and a centre on the host -------------------------------------------------------------------
work="$(mktemp -d)"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mosquitto_passwd -c -b "$work/passwd" smoke-pad pad-secret 2>/dev/null
mosquitto_passwd -b "$work/passwd" smoke-centre centre-secret 2>/dev/null
# mosquitto started as root runs as its own user: it must be able to read these
chmod 755 "$work" && chmod 644 "$work/passwd"
printf 'listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n' \
  "$port" "$work/passwd" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 & broker_pid=$!
sleep 0.5
kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log" >&2; exit 1; }
CENTRE_PW=centre-secret .venv/bin/counterside centre run --db "$work/centre.sqlite" --host 127.0.0.1 \
  --port "$port" --username smoke-centre --password-env CENTRE_PW >"$work/centre.log" 2>&1 & centre_pid=$!
cat >"$root/etc/counterside/smoke.toml" <<EOF
[device]
branch_id = "smoke-branch"
device_id = "smoke-pad"
roles = ["counter"]
counter = 1

[mqtt]
enabled = true
host = "127.0.0.1"
port = $port
tls = false
username = "smoke-pad"
password = "pad-secret"
EOF

# --- the smoke test, on arm64 ------------------------------------------------------------------------------
step "smoke test in the arm64 root"
rm -f "$root/var/lib/counterside/smoke.sqlite"*
in_root env SDL_VIDEODRIVER=dummy /opt/counterside/.venv/bin/python /opt/counterside/scripts/arm64_smoke.py \
  /etc/counterside/smoke.toml /var/lib/counterside/smoke.sqlite /var/lib/counterside/smoke.png
mkdir -p "$repo/var/arm64" && cp "$root/var/lib/counterside/smoke.png" "$repo/var/arm64/smoke.png"
echo "check-arm64: the frame drawn on arm64: var/arm64/smoke.png"
held="$(.venv/bin/counterside centre devices --db "$work/centre.sqlite" 2>/dev/null | grep smoke-pad || true)"
echo "check-arm64: the centre on the host: ${held:-nothing from smoke-pad}"
step "done"

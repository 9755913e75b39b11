#!/usr/bin/env bash
# Builds the Debian package, installs it on this machine, checks what it
# installed (the unit with systemd-analyze, the packaged config with
# check-config), and removes it again. Runs as root on Debian.
# Needs cargo-deb: cargo install cargo-deb --locked
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
# systemd-analyze comes with Debian's systemd package; `verify` reads unit
# files offline and needs no running systemd.
command -v systemd-analyze >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd
}

step "cargo deb (release build)"
cargo deb --locked
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb="target/debian/otpgate_${version}_amd64.deb"
test -f "$deb" || { echo "no $deb"; ls target/debian; exit 1; }
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

cleanup() { dpkg --purge otpgate >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb"
dpkg -L otpgate
test -x /usr/bin/otpgate
test -f /lib/systemd/system/otpgate.service || test -f /usr/lib/systemd/system/otpgate.service
getent passwd otpgate
[ "$(stat -c '%U %a' /etc/otpgate/session-secret)" = "root 600" ]
[ "$(stat -c '%U:%G %a' /etc/otpgate/key.pem)" = "root:otpgate 640" ]
dpkg-query -W -f='${Conffiles}\n' otpgate | grep -q ' /etc/otpgate/otpgate.toml '

step "systemd-analyze verify"
unit=$(ls /lib/systemd/system/otpgate.service /usr/lib/systemd/system/otpgate.service 2>/dev/null | head -1)
systemd-analyze verify "$unit"
# The hardening the unit promises, as systemd parsed it.
for want in "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "NoNewPrivileges=yes" \
            "ProtectSystem=strict" "LoadCredential=session-secret:" "ExecReload="; do
  grep -q "^$want" "$unit" || { echo "unit lacks $want"; exit 1; }
done

step "otpgate --version, check-config"
otpgate --version
otpgate check-config -c /etc/otpgate/otpgate.toml
otpgate completions bash > /tmp/otpgate.bash && grep -q "complete -F" /tmp/otpgate.bash && rm /tmp/otpgate.bash

step "dpkg -r, dpkg --purge"
dpkg -r otpgate
test ! -e /usr/bin/otpgate
test -e /etc/otpgate/otpgate.toml   # a removed package keeps its conffiles
dpkg --purge otpgate
test ! -e /etc/otpgate
trap - EXIT
echo "package OK: $deb"

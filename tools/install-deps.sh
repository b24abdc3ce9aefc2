#!/usr/bin/env bash
# tools/install-deps.sh - install what Peregrine needs from Debian 12, only if missing.
# Idempotent and quiet when everything is there; needs root (or sudo) otherwise.
set -euo pipefail

PKGS=(
  # build
  meson ninja-build pkg-config g++ clang libclang-rt-14-dev
  # libraries of the design card
  libdpdk-dev dpdk libipsec-mb-dev libconfig++-dev libcunit1-dev libssl-dev libpcap-dev libnuma-dev
  # test tools: independent ESP implementation, network-namespace labs
  python3 python3-scapy python3-cryptography iproute2 iputils-ping tcpdump ethtool socat procps
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

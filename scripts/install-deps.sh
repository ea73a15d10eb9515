#!/usr/bin/env bash
# Installs the Debian and npm packages that ovs-mesh's lab, tests and demo need.
# Package scripts are kept from starting services (Open vSwitch, Docker, etcd) in the
# root network namespace: the lab starts its own copies inside namespaces it creates.
set -euo pipefail

packages=(openvswitch-switch openvswitch-common iproute2 iputils-ping iperf3 iptables
  etcd-server etcd-client docker.io busybox-static procps kmod util-linux ethtool python3)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ovs-mesh: missing Debian packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  guard=/usr/sbin/policy-rc.d
  placed_guard=0
  if [ ! -e "$guard" ]; then
    # exit status 101 tells invoke-rc.d that no service may be started.
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 755 "$guard"
    placed_guard=1
  fi
  trap '[ "$placed_guard" = 1 ] && rm -f "$guard"' EXIT
  echo "ovs-mesh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

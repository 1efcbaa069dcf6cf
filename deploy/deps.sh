#!/usr/bin/env bash
# Installs the Debian packages bras's lab and tests drive: PostgreSQL,
# FreeRADIUS (+ radclient), tshark, iperf3, ping, iproute2, ethtool, curl, and
# clang/llvm/libbpf-dev to check the committed BPF objects, systemd
# (systemd-analyze, systemd-sysusers) to check the units, chromium (headless)
# to test the status page, prometheus (promtool) to check the alert rules and
# the dashboard's queries. Idempotent; needs root.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in postgresql freeradius freeradius-utils tshark iperf3 iputils-ping iproute2 ethtool curl clang llvm libbpf-dev systemd util-linux chromium prometheus; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packages start system-wide daemons on the standard ports; bras's lab and
# tests start their own instances, so stop the packaged ones.
for svc in freeradius postgresql prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  elif command -v service >/dev/null 2>&1; then
    service "$svc" stop >/dev/null 2>&1 || true
  fi
done
echo "deps: postgresql, freeradius, tshark, iperf3 present"

#!/usr/bin/env bash
# The main job of bras end to end on this machine: builds the namespaces
# sub ── lac ── lns ── upstream, starts an ephemeral PostgreSQL and a
# FreeRADIUS, the LAC and the LNS, brings up subscribers with traffic, prints
# the sessions and a usage report, and removes everything. Needs root.
# Extra arguments go to `bras lab` (e.g. -n 1000 -mode transparent).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
bash deploy/deps.sh
mkdir -p bin
go build -o bin/bras ./cmd/bras
exec ./bin/bras lab "$@"

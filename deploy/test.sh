#!/usr/bin/env bash
# Runs every bras test: installs what the tests need (Debian packages, Go
# modules), checks gofmt and go vet, then runs the whole suite, including the
# privileged end-to-end tests in network namespaces (run it as root), every
# benchmark once, and the protocol libraries and roles under -race.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
bash deploy/deps.sh
go mod download
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"; exit 1
fi
go vet ./...
bash deploy/bpfcheck.sh
go test -count=1 -timeout 20m ./...
# Every benchmark runs once, so none rots between the runs that measure.
go test -count=1 -timeout 5m -run '^$' -bench . -benchtime 1x ./...
# The protocol libraries and the roles under the race detector.
go test -race -count=1 -timeout 15m ./l2tp/... ./ppp/... ./pppoe/... ./aaa/... ./dataplane/... ./accounting/... ./lac/... ./lns/...

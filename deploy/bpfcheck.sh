#!/usr/bin/env bash
# Rebuilds the committed BPF objects (bpf2go, clang) and fails when they
# differ from what is committed: go build uses the committed files, so they
# must be what the C sources compile to.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
dirs=(./dataplane/)
[ -f internal/xdpgen/gen.go ] && dirs+=(./internal/xdpgen/)
go generate "${dirs[@]}"
if ! git diff --quiet -- '*_bpfel.go' '*_bpfel.o'; then
  echo "bpfcheck: the committed BPF objects are not what the sources build to:"
  git diff --stat -- '*_bpfel.go' '*_bpfel.o'
  exit 1
fi
echo "bpfcheck: BPF objects match their sources"

package xdpgen

// The BPF object is built with bpf2go and committed, so that go build
// needs no clang. To rebuild it (Debian: clang, llvm, libbpf-dev):
//
//	go generate ./internal/xdpgen/

//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" -target bpfel -type sink_count -type gen_template xdpgen bpf/xdpgen.c

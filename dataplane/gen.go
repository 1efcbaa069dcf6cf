package dataplane

// The BPF objects are built with bpf2go and committed, so that go build
// needs no clang. To rebuild them (Debian: clang, llvm, libbpf-dev):
//
//	go generate ./dataplane/
//
// CI rebuilds them and fails when the committed files differ
// (deploy/bpfcheck.sh).

//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3 -I/usr/include/x86_64-linux-gnu" -target bpfel -type dp_counters -type dp_policer -type dp_config -type lns_sess_key -type lns_sess -type lns_sub -type lns_route_key -type lns_route6_key lns bpf/lns.c
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3 -I/usr/include/x86_64-linux-gnu" -target bpfel -type dp_counters -type dp_policer -type dp_config -type lac_sub_key -type lac_sub -type lac_sess_key -type lac_sess lac bpf/lac.c

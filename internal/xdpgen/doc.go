// Package xdpgen is the forwarding benchmark's NIC-like traffic generator (template frames injected with BPF_PROG_TEST_RUN in live-frames mode) and its XDP sink that counts what arrives.
package xdpgen

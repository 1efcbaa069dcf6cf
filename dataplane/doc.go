// Package dataplane holds the forwarding engines the LAC and the LNS share,
// knowing neither role's policy: the eBPF/XDP fast path (BPF C under bpf/,
// built with bpf2go, objects committed) and its Go API, which the roles call
// to attach the programs, add, change and remove sessions, set rates and
// read counters.
package dataplane

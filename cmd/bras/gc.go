package main

import (
	"os"
	"runtime/debug"
)

// daemonGCPercent is the LNS's and LAC's GOGC. A daemon holds its
// sessions' state for hours, so most of its heap is live: at Go's default
// of 100 the heap grows to twice that state before a collection, and the
// resident size with it. At 40 it stays within 1.4 times, for a little
// more collection work during set-up bursts: 128,000 sessions on one LNS
// take 7.7 KiB each instead of 8.5 at 50, at the same set-up rate
// (BENCHMARKS.md, "Scale").
const daemonGCPercent = 40

// daemonGC sets the collector of a daemon. GOGC in the environment wins;
// GOMEMLIMIT, the runtime's soft ceiling (deploy/systemd: about 80 % of
// the memory the box gives the daemon), is the operator's to set.
func daemonGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(daemonGCPercent)
	}
}

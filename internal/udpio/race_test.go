//go:build race

package udpio_test

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// pooled paths allocate under -race and allocation counts mean nothing.
const raceEnabled = true

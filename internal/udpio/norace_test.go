//go:build !race

package udpio_test

const raceEnabled = false

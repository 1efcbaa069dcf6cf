package l2tp

// Sequence numbers of the control channel are free-running 16-bit counters
// compared modulo 65536, RFC 2661 section 5.8: a number is "less than or equal
// to" the last one received when it lies in that number and the 32767 values
// before it.

// seqLess reports whether a comes before b in the modular order of section
// 5.8: b is "greater" than a when it is one of the 32768 values after a (so
// a value is less than or equal to a when it is a or one of the 32767 before).
func seqLess(a, b uint16) bool {
	return a != b && b-a <= 0x8000
}

// seqDiff returns how far b is ahead of a (b - a modulo 65536).
func seqDiff(a, b uint16) uint16 {
	return b - a
}

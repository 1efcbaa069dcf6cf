// Package udpecho is the upstream end of the subscriber traffic tests: a UDP
// server that sends every datagram back to its sender and counts, per source
// address, what it received, so that a load generator can tell upstream loss
// from downstream loss.
package udpecho

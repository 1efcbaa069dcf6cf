// Package lns is the L2TP Network Server: it accepts tunnels and calls, terminates PPP, authenticates through RADIUS and forwards subscriber traffic through a TUN device.
package lns

// Package dial is the voluntary-tunnel client of RFC 2661 section 2 (the "LAC client"): a host that is its own LAC opens a tunnel and a call to an LNS, runs PPP as the client over it and carries its own IP traffic through a TUN device, reconnecting with back-off.
package dial

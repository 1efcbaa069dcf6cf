// Package l2tp speaks L2TPv2 (RFC 2661): the wire format with hidden AVPs, the reliable control channel, and the tunnel and session state machines of both the LAC and the LNS; and the L2TPv3 wire format (RFC 3931): its headers over UDP and IP, AVPs and message authentication.
package l2tp

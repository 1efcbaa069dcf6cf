// Package l2tp speaks L2TPv2 (RFC 2661): the wire format with hidden AVPs, the reliable control channel, and the tunnel and session state machines of both the LAC and the LNS.
package l2tp

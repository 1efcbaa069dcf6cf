// Package ethpw is an LCCE for Ethernet pseudowires over L2TPv3 (RFC 4719):
// it ties local attachment circuits, a whole Ethernet port or one 802.1Q
// VLAN of it, to L2TPv3 sessions with remote LCCEs, and carries their
// frames and circuit status both ways. `bras pw` runs it.
package ethpw

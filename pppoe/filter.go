package pppoe

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Session frames are read on two sockets per port: PPP control frames
// (LCP, authentication, the NCPs: protocol numbers 0x8000 and up, RFC 1661
// section 2) on one, everything else on the other, each keeping what the
// other leaves with a classic BPF filter. A flood of data fills the data
// socket's queue (its receive ring) and the kernel drops data; the control
// socket's queue stays short, so LCP Echo and the negotiations get through,
// as an operator expects keepalive to survive a subscriber's flood. A
// control frame may overtake data of its session, which PPP allows.

// sessionFilter returns the filter of a session socket: control keeps the
// PPP control frames, !control the others. Both keep only PPPoE session
// frames (ethertype 0x8864, behind up to two tags the kernel left inline).
func sessionFilter(control bool) ([]bpf.RawInstruction, error) {
	keep, drop := uint32(0x40000), uint32(0)
	ctl, data := keep, drop
	if !control {
		ctl, data = drop, keep
	}
	const ppp0 = 6 // the PPP protocol's first octet, after the PPPoE header
	prog := []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 12, Size: 2},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeSession), SkipTrue: 9}, // → 11
		/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeVLAN), SkipTrue: 1}, // → 4
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeQinQ), SkipFalse: 14}, // → 18
		/* 4 */ bpf.LoadAbsolute{Off: 16, Size: 2},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeSession), SkipTrue: 7}, // → 13
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeVLAN), SkipFalse: 11}, // → 18
		/* 7 */ bpf.LoadAbsolute{Off: 20, Size: 2},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeSession), SkipFalse: 9}, // → 18
		/* 9 */ bpf.LoadAbsolute{Off: 22 + ppp0, Size: 1}, // two tags inline
		/* 10 */ bpf.Jump{Skip: 3}, // → 14
		/* 11 */ bpf.LoadAbsolute{Off: 14 + ppp0, Size: 1}, // untagged (or tag taken off by the kernel)
		/* 12 */ bpf.Jump{Skip: 1}, // → 14
		/* 13 */ bpf.LoadAbsolute{Off: 18 + ppp0, Size: 1}, // one tag inline
		// An odd first octet is a compressed protocol (RFC 1661 section
		// 6.5), only ever data; 0x80 and up is a control protocol.
		/* 14 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 1, SkipTrue: 2}, // → 17
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x80, SkipFalse: 1}, // → 17
		/* 16 */ bpf.RetConstant{Val: ctl},
		/* 17 */ bpf.RetConstant{Val: data},
		/* 18 */ bpf.RetConstant{Val: drop},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("pppoe: session filter: %w", err)
	}
	return raw, nil
}

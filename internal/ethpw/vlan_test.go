package ethpw

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// An ARP request from 02:00:00:00:00:01 for 192.0.2.2 (RFC 826), as the
// kernel hands it to a packet socket: untagged.
var arpFrame = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
	0x08, 0x06, // ethertype ARP
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 0, 2, 1, // sender
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 0, 2, 2, // target
}

// tagged is arpFrame with an 802.1Q tag (IEEE 802.1Q section 9.6: TPID,
// then PCP 3 bits, DEI 1 bit, VID 12 bits) after the addresses.
func tagged(tpid, tci uint16) []byte {
	f := append([]byte(nil), arpFrame[:12]...)
	f = binary.BigEndian.AppendUint16(f, tpid)
	f = binary.BigEndian.AppendUint16(f, tci)
	return append(f, arpFrame[12:]...)
}

// TestInsertTag: the tag the kernel took off (PACKET_AUXDATA) is put back
// after the addresses, with its priority and TPID, in the buffer's headroom.
func TestInsertTag(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tpid, tci uint16
	}{
		{"802.1Q VLAN 100", tpid8021Q, 100},
		{"802.1Q VLAN 4094 PCP 5 DEI", tpid8021Q, 5<<13 | 1<<12 | 4094},
		{"802.1ad S-tag 10", tpid8021AD, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tagLen+len(arpFrame))
			copy(buf[tagLen:], arpFrame)
			got := insertTag(buf, len(arpFrame), tc.tpid, tc.tci)
			if diff := cmp.Diff(tagged(tc.tpid, tc.tci), got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if &got[0] != &buf[0] {
				t.Error("the tagged frame does not alias the buffer")
			}
		})
	}
}

// TestVLANRewrite: a VLAN pseudowire's frame leaves with the egress
// circuit's VLAN ID (RFC 4719 section 3.1: the egress LCCE MAY rewrite the
// tag), its priority and DEI kept, the rest untouched; an untagged or
// short frame is refused.
func TestVLANRewrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []byte
		vid   uint16
		want  []byte
		ok    bool
		outer uint16
	}{
		{"100 to 200", tagged(tpid8021Q, 100), 200, tagged(tpid8021Q, 200), true, 100},
		{"priority kept", tagged(tpid8021Q, 6<<13|1<<12|7), 4094, tagged(tpid8021Q, 6<<13|1<<12|4094), true, 7},
		{"S-tag", tagged(tpid8021AD, 30), 31, tagged(tpid8021AD, 31), true, 30},
		{"same VLAN", tagged(tpid8021Q, 9), 9, tagged(tpid8021Q, 9), true, 9},
		{"untagged", arpFrame, 200, arpFrame, false, 0},
		{"short", tagged(tpid8021Q, 100)[:17], 200, tagged(tpid8021Q, 100)[:17], false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(nil), tc.in...)
			vid, hasTag := outerVID(f)
			if hasTag != tc.ok || vid != tc.outer {
				t.Errorf("outerVID = %d, %v; want %d, %v", vid, hasTag, tc.outer, tc.ok)
			}
			if ok := rewriteVID(f, tc.vid); ok != tc.ok {
				t.Errorf("rewriteVID = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, f); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestAuxTag reads the tag from PACKET_AUXDATA as the kernel writes it
// (packet(7)): the VLAN when TP_STATUS_VLAN_VALID, the TPID when
// TP_STATUS_VLAN_TPID_VALID (802.1Q otherwise), nothing without.
func TestAuxTag(t *testing.T) {
	cmsg := func(status uint32, tci, tpid uint16) []byte {
		b := make([]byte, auxLen)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
		h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		aux.Status, aux.Vlan_tci, aux.Vlan_tpid = status, tci, tpid
		return b
	}
	for _, tc := range []struct {
		name      string
		oob       []byte
		tpid, tci uint16
		ok        bool
	}{
		{"802.1Q", cmsg(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 3<<13|100, tpid8021Q), tpid8021Q, 3<<13 | 100, true},
		{"802.1ad", cmsg(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 10, tpid8021AD), tpid8021AD, 10, true},
		{"no TPID", cmsg(unix.TP_STATUS_VLAN_VALID, 7, 0), tpid8021Q, 7, true},
		{"VLAN 0 priority tag", cmsg(unix.TP_STATUS_VLAN_VALID, 5<<13, tpid8021Q), tpid8021Q, 5 << 13, true},
		{"untagged", cmsg(0, 0, 0), 0, 0, false},
		{"no control message", nil, 0, 0, false},
		{"cut short", cmsg(unix.TP_STATUS_VLAN_VALID, 7, 0)[:unix.SizeofCmsghdr+2], 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpid, tci, ok := auxTag(tc.oob)
			if tpid != tc.tpid || tci != tc.tci || ok != tc.ok {
				t.Errorf("auxTag = %#x, %#x, %v; want %#x, %#x, %v", tpid, tci, ok, tc.tpid, tc.tci, tc.ok)
			}
		})
	}
}

// TestTagAllocs: the tag handling of the data path allocates nothing.
func TestTagAllocs(t *testing.T) {
	buf := make([]byte, frameBufLen)
	f := tagged(tpid8021Q, 100)
	if n := testing.AllocsPerRun(100, func() {
		copy(buf[tagLen:], arpFrame)
		g := insertTag(buf, len(arpFrame), tpid8021Q, 100)
		outerVID(g)
		rewriteVID(f, 200)
	}); n != 0 {
		t.Errorf("%v allocations per frame, want 0", n)
	}
}

// FuzzVLANTag: whatever a packet socket hands over, reading and rewriting
// the outer tag never panics, a rewrite changes only the VLAN ID (RFC 4719
// section 4: priority and DEI kept), and a tag put back is read back as
// given.
func FuzzVLANTag(f *testing.F) {
	f.Add(arpFrame, uint16(100))
	f.Add([]byte{}, uint16(1))
	f.Add(make([]byte, 17), uint16(4095))
	f.Fuzz(func(t *testing.T, frame []byte, vid uint16) {
		in := append([]byte(nil), frame...)
		old, tagged := outerVID(frame)
		if rewriteVID(frame, vid) != tagged {
			t.Fatalf("rewriteVID and outerVID disagree on whether % x is tagged", in)
		}
		if tagged {
			if got, _ := outerVID(frame); got != vid&vidMask {
				t.Fatalf("VLAN %d rewritten to %d, reads %d", old, vid, got)
			}
			if pcp := func(b []byte) uint16 { return binary.BigEndian.Uint16(b[macsLen+2:]) &^ vidMask }; pcp(frame) != pcp(in) {
				t.Fatalf("priority and DEI changed: % x -> % x", in, frame)
			}
		}
		if len(in) >= macsLen {
			buf := append(make([]byte, tagLen), in...)
			out := insertTag(buf, len(in), tpid8021Q, vid)
			if got, ok := outerVID(out); len(out) >= ethHdrLen+tagLen && (!ok || got != vid&vidMask) {
				t.Fatalf("tag %d put back on % x reads %d, %v", vid, in, got, ok)
			}
		}
	})
}

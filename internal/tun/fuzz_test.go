package tun_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/bras-project/bras/internal/tun"
)

// FuzzParseVnetHdr checks the round trip parse → append → parse.
func FuzzParseVnetHdr(f *testing.F) {
	f.Add(vnetBytes(0, 0, 0, 0, 0, 0))
	f.Add(vnetBytes(1, 1, 52, 1448, 20, 16))
	f.Add(vnetBytes(1, 0x84, 60, 1428, 40, 16))
	f.Add(vnetBytes(1, 5, 28, 1200, 20, 6))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := tun.ParseVnetHdr(b)
		if err != nil {
			return
		}
		enc, err := h.Append(nil)
		if err != nil {
			t.Fatalf("Append of a parsed header: %v", err)
		}
		if !bytes.Equal(enc, b[:tun.VnetHdrLen]) {
			t.Fatalf("Append = % x, want % x", enc, b[:tun.VnetHdrLen])
		}
		if h2, err := tun.ParseVnetHdr(enc); err != nil || h2 != h {
			t.Fatalf("parse again = %+v, %v; want %+v", h2, err, h)
		}
	})
}

// FuzzSplit feeds a read (virtio_net_hdr and packet) to the Splitter, as
// the TUN reader does, with a buffer of room octets. It must not panic; no
// packet may be longer than the buffer or than the headers and one segment
// of the input; the payload given out never exceeds the input's; every
// segment of a GSO packet has checksums and lengths that verify.
func FuzzSplit(f *testing.F) {
	seg := []tcp{
		{seq: 1, ack: 2, flags: 0x10, win: 3, payload: pattern(0, 1000)},
		{seq: 1001, ack: 2, flags: 0x18, win: 3, payload: pattern(1000, 10)},
	}
	f.Add(append(vnetBytes(1, 1, 40, 1000, 20, 16), superTCP(flow4, seg)...), 1500)
	f.Add(append(vnetBytes(1, 4, 60, 700, 40, 16), superTCP(flow6, seg)...), 1500)
	f.Add(append(vnetBytes(1, 5, 28, 333, 20, 6), flow4.udp(1, pattern(0, 1000))...), 400)
	f.Add(append(vnetBytes(1, 0, 0, 0, 20, 16), flow4.tcp(seg[1])...), 1500)
	f.Add(append(vnetBytes(0, 0, 0, 0, 0, 0), flow6.udp(0, nil)...), 30)
	f.Fuzz(func(t *testing.T, b []byte, room int) {
		if room < 0 || room > 70000 {
			return
		}
		h, err := tun.ParseVnetHdr(b)
		if err != nil {
			return
		}
		pkt := b[tun.VnetHdrLen:]
		in := bytes.Clone(pkt)
		var s tun.Splitter
		if err := s.Reset(h, pkt); err != nil {
			if !errors.Is(err, tun.ErrMalformed) {
				t.Fatalf("Reset: %v, not ErrMalformed", err)
			}
			return
		}
		dst := make([]byte, room)
		var segs, total int
		for ; ; segs++ {
			if segs > len(pkt)+1 {
				t.Fatalf("more than %d packets out of %d octets", segs, len(pkt))
			}
			n, err := s.Next(dst)
			if err == io.EOF {
				break
			}
			if errors.Is(err, tun.ErrTooBig) {
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if n > room || n > len(pkt) {
				t.Fatalf("a %d-octet packet out of %d octets into %d", n, len(pkt), room)
			}
			if h.GSOType == tun.GSONone {
				continue
			}
			p := dst[:n]
			if int(h.GSOSize) < len(payloadOf(p)) {
				t.Fatalf("segment payload %d above the segment size %d", len(payloadOf(p)), h.GSOSize)
			}
			total += len(payloadOf(p))
			if !checksumsOK(p) {
				t.Fatalf("segment %d: checksums or lengths do not verify: % x", segs, p)
			}
		}
		if total > len(pkt) {
			t.Fatalf("%d payload octets out of a %d-octet packet", total, len(pkt))
		}
		if !bytes.Equal(in, pkt) {
			t.Fatal("Splitter changed its input")
		}
	})
}

package l2tp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestSplitGRO(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int // octets read
		seg  int
		want []int
	}{
		{"not coalesced", 100, 0, []int{100}},
		{"one segment", 100, 100, []int{100}},
		{"segment larger than the read", 60, 100, []int{60}},
		{"equal segments", 300, 100, []int{100, 100, 100}},
		{"odd last segment", 250, 100, []int{100, 100, 50}},
		{"one-octet last segment", 201, 100, []int{100, 100, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.n)
			for i := range b {
				b[i] = byte(i)
			}
			var got []int
			off := 0
			splitGRO(b, tc.seg, func(d []byte) {
				if !bytes.Equal(d, b[off:off+len(d)]) {
					t.Errorf("segment at %d is not the read's octets", off)
				}
				off += len(d)
				got = append(got, len(d))
			})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("segment lengths (-want +got)\n%s", diff)
			}
		})
	}
}

func TestGROSize(t *testing.T) {
	cmsg := func(level, typ int32, v int32) []byte {
		b := make([]byte, unix.CmsgSpace(4))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(4))
		*(*int32)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = v
		return b
	}
	for _, tc := range []struct {
		name string
		oob  []byte
		want int
	}{
		{"none", nil, 0},
		{"UDP_GRO", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1400), 1400},
		{"after another message", append(cmsg(unix.IPPROTO_IP, unix.IP_TOS, 0), cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 64)...), 64},
		{"another message only", cmsg(unix.IPPROTO_IP, unix.IP_TOS, 5), 0},
		{"truncated", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 64)[:unix.SizeofCmsghdr-1], 0},
		{"length past the buffer", func() []byte {
			b := cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 64)
			(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(100)
			return b
		}(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := groSize(tc.oob); got != tc.want {
				t.Errorf("groSize = %d, want %d", got, tc.want)
			}
		})
	}
}

// sendGSO sends msgs from c to dst as one UDP GSO message of segment
// size seg (UDP_SEGMENT), as a LAC or LNS with GSO does.
func sendGSO(t *testing.T, c *net.UDPConn, dst *net.UDPAddr, seg int, msgs [][]byte) {
	t.Helper()
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(seg)
	if _, _, err := c.WriteMsgUDP(bytes.Join(msgs, nil), oob, dst); err != nil {
		t.Skipf("UDP GSO send: %v", err)
	}
}

// TestUDPGRO: data messages sent as one UDP GSO message (the last one
// shorter) reach the endpoint with UDP_GRO as a coalesced read and are
// handed to Data one by one, in order, intact.
func TestUDPGRO(t *testing.T) {
	checkGoroutines(t)
	var mu sync.Mutex
	var got []string
	_, lns, s, _ := udpPair(t, func(_ *Tunnel, _ *Session, _ Header, b []byte) {
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}, nil)
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	h := Header{TunnelID: s.Tunnel().PeerID(), SessionID: s.PeerID()}
	var msgs [][]byte
	var want []string
	for i := range 10 {
		p := fmt.Sprintf("frame %d of ten, padded", i)
		if i == 9 {
			p = "last"
		}
		m, _ := AppendHeader(nil, h, len(p))
		msgs = append(msgs, append(m, p...))
		want = append(want, p)
	}
	sendGSO(t, src, lns.conn.LocalAddr().(*net.UDPAddr), len(msgs[0]), msgs)
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("data messages (-want +got)\n%s", diff)
	}
}

// TestDataBatchEnd: DataBatchEnd runs on the reader after each read.
func TestDataBatchEnd(t *testing.T) {
	checkGoroutines(t)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ends := make(chan struct{}, 16)
	e, err := NewEndpoint(c, Config{HostName: "lns", DataBatchEnd: func() { ends <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	m, _ := AppendHeader(nil, Header{TunnelID: 1, SessionID: 2}, 1)
	if _, err := c.WriteTo(append(m, 0), c.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ends:
	case <-time.After(3 * time.Second):
		t.Fatal("DataBatchEnd was not called after a read")
	}
	if st := e.Stats(); st.DataUnknownSession.Load() != 1 {
		t.Errorf("DataUnknownSession %d, want 1", st.DataUnknownSession.Load())
	}
}

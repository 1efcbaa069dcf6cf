package l2tp

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
)

// v3WiresharkNames are the names Wireshark's dissector gives the messages.
var v3WiresharkNames = map[MsgType]string{
	MsgSCCRQ: "Start_Control_Request", MsgSCCRP: "Start_Control_Reply", MsgSCCCN: "Start_Control_Connected",
	MsgStopCCN: "Stop_Control_Notification", MsgHELLO: "Hello", MsgOCRQ: "Outgoing_Call_Request",
	MsgOCRP: "Outgoing_Call_Reply", MsgOCCN: "Outgoing_Call_Connected", MsgICRQ: "Incoming_Call_Request",
	MsgICRP: "Incoming_Call_Reply", MsgICCN: "Incoming_Call_Connected", MsgCDN: "Call_Disconnect_Notification",
	MsgWEN: "WAN_Error_Notify", MsgSLI: "Set_Link_Info", MsgACK: "Explicit_Acknowledgement",
}

// v3Frame is one packet of the golden capture: who sends it and its L2TP
// octets (a UDP payload, or an IP payload over IP), and what tshark must
// find in its decoding.
type v3Frame struct {
	sender string
	l2tp   []byte
	want   []string
}

// v3GoldenFrames returns the golden control connection of v3golden_test.go
// in wire order with, after the ICCN and the OCCN, one data message each
// way on the PPP and the Ethernet session, framed as the control messages
// negotiated (cookies of the Assigned Cookie AVPs, the sublayer of the
// L2-Specific Sublayer AVPs).
func v3GoldenFrames(t *testing.T, e Encap) []v3Frame {
	t.Helper()
	data := func(sender string, f V3DataFormat, h V3DataHeader, payload []byte, want ...string) v3Frame {
		f.Encap = e
		b, err := AppendV3Data(nil, f, h)
		if err != nil {
			t.Fatal(err)
		}
		return v3Frame{sender, append(b, payload...), want}
	}
	lcpEcho := []byte{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44}
	arp := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, // Ethernet
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // ARP request
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 0, 2, 1,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 0, 2, 2,
	}
	var frames []v3Frame
	for _, o := range v3GoldenOrder {
		b := v3GoldenBytes[o.name]
		if e == EncapIP {
			b = append([]byte{0, 0, 0, 0}, b...)
		}
		want := "Length: 12\n" // the ZLB
		for _, tc := range v3GoldenCases {
			if tc.name == o.name && tc.m != nil {
				want = fmt.Sprintf("Message Type: %s (%d)\n", v3WiresharkNames[tc.m.Type], tc.m.Type)
			}
		}
		frames = append(frames, v3Frame{o.sender, b, []string{want}})
		switch o.name {
		case "ICCN": // the PPP session: B asked for an 8-octet cookie, A for a 4-octet one, both the sublayer
			frames = append(frames,
				data("A", V3DataFormat{CookieLen: 8, Sublayer: SublayerDefault}, V3DataHeader{SessionID: 0x00020002, Cookie: 0x0102030405060708, HasSeq: true, Seq: 0}, lcpEcho, "Session ID: 0x00020002\n", "[Pseudowire Type: PPP (7)]", "Cookie: 0102030405060708\n", "S-bit: True", "Sequence Number: 0\n", "Echo Request"),
				data("B", V3DataFormat{CookieLen: 4, Sublayer: SublayerDefault}, V3DataHeader{SessionID: 0x00010001, Cookie: 0xdeadbeef, HasSeq: true, Seq: 1}, lcpEcho, "Session ID: 0x00010001\n", "[Pseudowire Type: PPP (7)]", "Cookie: deadbeef\n", "Sequence Number: 1\n", "Echo Request"))
		case "OCCN":
			// The Ethernet session: no cookie towards B, 4 octets
			// towards A, no sublayer. Wireshark 4.0 ties a session to
			// the control connection only when the side that opened
			// the connection also requested the call (here B sent the
			// OCRQ), so it shows these payloads as data: only their
			// headers are checked.
			frames = append(frames,
				data("A", V3DataFormat{}, V3DataHeader{SessionID: 0x00020003}, arp, "Session ID: 0x00020003\n"),
				data("B", V3DataFormat{CookieLen: 4}, V3DataHeader{SessionID: 0x00010003, Cookie: 0xcafef00d}, arp, "Session ID: 0x00010003\n"))
		}
	}
	return frames
}

// v3Pcap writes frames as a raw-IPv4 capture: A is 127.0.0.1, B 127.0.0.2,
// over UDP port 1701 or IP protocol 115.
func v3Pcap(frames []v3Frame, e Encap) []byte {
	var pcap []byte
	pcap = binary.LittleEndian.AppendUint32(pcap, 0xa1b2c3d4) // magic
	pcap = binary.LittleEndian.AppendUint16(pcap, 2)          // version 2.4
	pcap = binary.LittleEndian.AppendUint16(pcap, 4)
	pcap = binary.LittleEndian.AppendUint64(pcap, 0)     // zone, sigfigs
	pcap = binary.LittleEndian.AppendUint32(pcap, 65535) // snaplen
	pcap = binary.LittleEndian.AppendUint32(pcap, 101)   // LINKTYPE_RAW: IPv4
	for i, f := range frames {
		src, dst := byte(1), byte(2)
		if f.sender == "B" {
			src, dst = 2, 1
		}
		proto, l4 := byte(17), f.l2tp
		if e == EncapUDP {
			udp := []byte{0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0} // 1701 -> 1701, no checksum
			binary.BigEndian.PutUint16(udp[4:], uint16(8+len(f.l2tp)))
			l4 = joinWire(udp, f.l2tp)
		} else {
			proto = IPProtoL2TP
		}
		ip := []byte{
			0x45, 0x00, 0, 0, // version, IHL, TOS, total length (below)
			0, byte(i), 0, 0, // ID, flags, fragment
			64, proto, 0, 0, // TTL, protocol, checksum (below)
			127, 0, 0, src, 127, 0, 0, dst,
		}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		sum = sum>>16 + sum&0xffff
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum+sum>>16))
		pkt := joinWire(ip, l4)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(i)) // seconds
		pcap = binary.LittleEndian.AppendUint32(pcap, 0)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = append(pcap, pkt...)
	}
	return pcap
}

// TestV3GoldenTshark hands the golden L2TPv3 control connection, over UDP
// and over IP, with data messages of both pseudowires, to Wireshark's
// dissector (written independently of this code). Given the shared secret
// it recomputes every Message Digest from the nonces it saw in the SCCRQ
// and SCCRP (RFC 3931 section 5.4.1): nothing may be malformed or flagged,
// and every message must be the type we meant. With a wrong secret, the
// same capture must be flagged, so the digests are really checked.
func TestV3GoldenTshark(t *testing.T) {
	tshark := testenv.RequireCommand(t, "tshark")
	for _, e := range []Encap{EncapUDP, EncapIP} {
		t.Run(e.String(), func(t *testing.T) {
			frames := v3GoldenFrames(t, e)
			file := filepath.Join(t.TempDir(), "golden-v3.pcap")
			if err := os.WriteFile(file, v3Pcap(frames, e), 0o600); err != nil {
				t.Fatal(err)
			}
			run := func(secret string) string {
				out, err := exec.Command(tshark, "-n", "-r", file, "-V", "-o", "l2tp.shared_secret:"+secret).CombinedOutput()
				if err != nil {
					t.Fatalf("tshark: %v\n%s", err, out)
				}
				return string(out)
			}
			text := run(string(v3GoldenSecret))
			for _, bad := range []string{"Malformed", "Expert Info (Error", "Expert Info (Warning", "Incorrect Digest"} {
				if strings.Contains(text, bad) {
					t.Errorf("tshark reports %q:\n%s", bad, text)
				}
			}
			decoded := strings.Split("\n"+text, "\nFrame ")[1:]
			if len(decoded) != len(frames) {
				t.Fatalf("tshark decoded %d frames, want %d", len(decoded), len(frames))
			}
			for i, f := range frames {
				for _, want := range append(f.want, "Layer 2 Tunneling Protocol version 3") {
					if !strings.Contains(decoded[i], want) {
						t.Errorf("frame %d: tshark does not see %q:\n%s", i+1, want, decoded[i])
					}
				}
			}
			signed := 0
			for _, o := range v3GoldenOrder {
				if o.name != "ZLB" {
					signed++
				}
			}
			if n := strings.Count(run("wrong"), "[Incorrect Digest]"); n != signed {
				t.Errorf("with a wrong secret tshark flags %d digests, want %d", n, signed)
			}
		})
	}
}

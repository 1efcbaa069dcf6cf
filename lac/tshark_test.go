package lac

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// pcapUDP wraps L2TP packets in IPv4/UDP 1701 in a pcap file
// (LINKTYPE_RAW).
func pcapUDP(t *testing.T, pkts [][]byte) string {
	var pcap []byte
	pcap = binary.LittleEndian.AppendUint32(pcap, 0xa1b2c3d4)
	pcap = binary.LittleEndian.AppendUint16(pcap, 2)
	pcap = binary.LittleEndian.AppendUint16(pcap, 4)
	pcap = binary.LittleEndian.AppendUint64(pcap, 0)
	pcap = binary.LittleEndian.AppendUint32(pcap, 65535)
	pcap = binary.LittleEndian.AppendUint32(pcap, 101)
	for i, l2 := range pkts {
		ip := []byte{0x45, 0, 0, 0, 0, byte(i), 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(l2)))
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		sum = sum>>16 + sum&0xffff
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum+sum>>16))
		udp := []byte{0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(l2)))
		pkt := append(append(ip, udp...), l2...)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(i))
		pcap = binary.LittleEndian.AppendUint32(pcap, 0)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(len(pkt)))
		pcap = append(pcap, pkt...)
	}
	file := filepath.Join(t.TempDir(), "lac.pcap")
	if err := os.WriteFile(file, pcap, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestTsharkICRQICCN hands the LAC's ICRQ (with access-line vendor AVPs)
// and ICCN (with the proxy AVPs of a negotiated CHAP session) to
// Wireshark's L2TP dissector, written independently of this code.
func TestTsharkICRQICCN(t *testing.T) {
	tshark := testenv.RequireCommand(t, "tshark")
	icrqAVPs, err := ICRQAVPs(CallInfo{MAC: pppoe.MAC{2, 0, 0, 0, 0, 0x2a}, Service: "internet", PhysicalChannel: 9, AccessLine: accessLine})
	if err != nil {
		t.Fatal(err)
	}
	px, _ := negotiate(t, ppp.AuthCHAPMD5)
	var pkts [][]byte
	for i, m := range []*l2tp.Message{
		{Type: l2tp.MsgICRQ, AVPs: append([]l2tp.AVP{l2tp.NewAVPUint16(l2tp.AVPAssignedSessionID, 0x1234),
			l2tp.NewAVPUint32(l2tp.AVPCallSerialNumber, 1)}, icrqAVPs...)},
		{Type: l2tp.MsgICCN, AVPs: ICCNAVPs(accessLine, &px)},
	} {
		b, err := l2tp.AppendControl(nil, l2tp.Header{TunnelID: 7, SessionID: uint16(i) * 0x4321, Ns: uint16(i)}, m, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	cmd := exec.Command(tshark, "-n", "-r", pcapUDP(t, pkts), "-V")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	checkDecode(t, string(out),
		"Incoming_Call_Request", "Incoming_Call_Connected",
		"Calling Number: dslam1 atm 1/0/3:8.35", "Called Number: internet",
		"Vendor ID: ", "Proxy Authen Type: PPP CHAP (2)", "Proxy Authen Name: alice@example.com",
		"Connect Speed: 16384000", "Actual Data Rate Upstream: 1024000", "Agent Remote ID: cust-42")
	if t.Failed() {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
}

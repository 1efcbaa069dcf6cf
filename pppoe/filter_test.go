package pppoe

import (
	"testing"

	"golang.org/x/net/bpf"
)

func TestSessionFilter(t *testing.T) {
	ctl, err := sessionFilter(true)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := sessionFilter(false)
	vm := func(raw []bpf.RawInstruction) *bpf.VM {
		ins, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatal("filter does not disassemble")
		}
		v, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cvm, dvm := vm(ctl), vm(data)
	frame := func(vk vlanKey, ppp ...byte) []byte {
		return appendSessionFrame(nil, acMAC, hostMAC, vk, 0x1234, append(ppp, 1, 2, 3, 4))
	}
	for _, tc := range []struct {
		name    string
		frame   []byte
		control bool
		neither bool
	}{
		{"LCP", frame(0, 0xc0, 0x21), true, false},
		{"PAP", frame(0, 0xc0, 0x23), true, false},
		{"CHAP", frame(0, 0xc2, 0x23), true, false},
		{"IPCP", frame(0, 0x80, 0x21), true, false},
		{"IPV6CP", frame(0, 0x80, 0x57), true, false},
		{"IPv4", frame(0, 0x00, 0x21), false, false},
		{"IPv6", frame(0, 0x00, 0x57), false, false},
		{"IPv4, protocol compressed", frame(0, 0x21), false, false},
		{"LCP, one tag inline", frame(vlanKey(100), 0xc0, 0x21), true, false},
		{"IPv4, one tag inline", frame(vlanKey(100), 0x00, 0x21), false, false},
		{"LCP, two tags inline", frame(vlanKey(10)<<16|vlanKey(20), 0xc0, 0x21), true, false},
		{"IPv4, two tags inline", frame(vlanKey(10)<<16|vlanKey(20), 0x00, 0x21), false, false},
		{"discovery", append(appendEth(nil, acMAC, hostMAC, 0, EtherTypeDiscovery), 0x11, 0x09, 0, 0, 0, 0), false, true},
		{"IPv4 over Ethernet", append(appendEth(nil, acMAC, hostMAC, 0, 0x0800), make([]byte, 40)...), false, true},
		{"short", frame(0)[:16], false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cvm.Run(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			d, err := dvm.Run(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			wantC, wantD := tc.control, !tc.control
			if tc.neither {
				wantC, wantD = false, false
			}
			if (c != 0) != wantC || (d != 0) != wantD {
				t.Errorf("control socket keeps %v, data socket keeps %v; want %v, %v", c != 0, d != 0, wantC, wantD)
			}
		})
	}
}

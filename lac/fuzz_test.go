package lac

import (
	"bytes"
	"testing"

	"github.com/bras-project/bras/l2tp"
	"github.com/google/go-cmp/cmp"
)

// FuzzParseAccessLineAVPs: AVP bytes → access line → AVPs → access line
// gives the same access line.
func FuzzParseAccessLineAVPs(f *testing.F) {
	avps, _ := AccessLineAVPs(accessLine)
	b, _ := l2tp.AppendAVPs(nil, avps, l2tp.AppendOptions{})
	f.Add(b)
	f.Add([]byte{0x00, 0x09, 0x0d, 0xe9, 0x00, 0x90, 0x01, 0x02, 0x03}) // Access-Loop-Encapsulation
	f.Add([]byte{0x00, 0x06, 0x0d, 0xe9, 0x00, 0xfe})                   // IWF-Session
	f.Add([]byte{0x00, 0x0a, 0x0d, 0xe9, 0x00, 0x81, 0x00, 0x00, 0x01}) // rate of 3 octets
	f.Fuzz(func(t *testing.T, b []byte) {
		parsed, err := l2tp.ParseAVPs(b, nil)
		if err != nil {
			return
		}
		a, ok, err := ParseAccessLineAVPs(&l2tp.Message{Type: l2tp.MsgICRQ, AVPs: parsed})
		if err != nil || !ok {
			return
		}
		avps, err := AccessLineAVPs(&a)
		if err != nil {
			t.Fatalf("AccessLineAVPs of a parsed access line: %v", err)
		}
		a2, ok, err := ParseAccessLineAVPs(&l2tp.Message{Type: l2tp.MsgICRQ, AVPs: avps})
		if err != nil || (!ok && len(avps) > 0) {
			t.Fatalf("re-parse: %v %v", ok, err)
		}
		a.IWFSession = false // not sent on (see AccessLineAVPs)
		if diff := cmp.Diff(a, a2); diff != "" {
			t.Errorf("round trip (-first +second)\n%s", diff)
		}
	})
}

// FuzzParseProxyAVPs: ICCN AVP bytes → proxy values → AVPs → proxy values
// gives the same values.
func FuzzParseProxyAVPs(f *testing.F) {
	for _, tc := range []string{
		"0008 0000 001d 0003" + "000b 0000 001e 616c6963" + "0008 0000 0020 0001" + "000c 0000 0021 736563726574",
		"0010 0000 001a 0104 05d4 0506 65666768" + "0008 0000 001d 0004",
		"0008 0000 001d 0002" + "0007 0000 001f 01" + "0008 0000 0020 0015" + "0016 0000 0021 00112233445566778899aabbccddeeff",
	} {
		f.Add(unhex(f, tc))
	}
	eq := cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		parsed, err := l2tp.ParseAVPs(b, nil)
		if err != nil {
			return
		}
		p, ok, err := ProxyFromICCN(&l2tp.Message{Type: l2tp.MsgICCN, AVPs: parsed})
		if err != nil || !ok {
			return
		}
		p2, ok, err := ProxyFromICCN(&l2tp.Message{Type: l2tp.MsgICCN, AVPs: ProxyAVPs(p)})
		if err != nil || !ok {
			t.Fatalf("re-parse: %v %v", ok, err)
		}
		// Values the proxy type does not carry (a PAP challenge) are dropped
		// by ProxyAVPs, as section 4.4.5 lists them per type.
		want := p
		if want.AuthProto.ProxyAuthenType() != 2 {
			want.AuthChallenge = nil
		}
		if want.AuthProto.ProxyAuthenType() == 4 {
			want.AuthName, want.AuthID, want.AuthResponse = "", 0, nil
		}
		if diff := cmp.Diff(want, p2, eq); diff != "" {
			t.Errorf("round trip (-first +second)\n%s", diff)
		}
	})
}

package l2tp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	testRV1 = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} // the RV of testdata/golden_gen.py
	testRV2 = []byte("another random vector")
)

// multiRV hides AVPs under two Random Vectors in one message (section 4.3:
// a hidden AVP uses the Random Vector most closely preceding it).
var multiRV = []AVP{
	NewAVPBytes(AVPRandomVector, testRV1),
	asHidden(NewAVPString(AVPProxyAuthenName, "alice")),
	NewAVPString(AVPCalledNumber, "clear"),
	NewAVPBytes(AVPRandomVector, testRV2),
	asHidden(NewAVPString(AVPProxyAuthenResponse, "a response long enough to span three MD5 blocks")),
	asHidden(NewAVPUint16(AVPAssignedSessionID, 7)),
	asHidden(AVP{VendorID: 9, Type: 1, Value: []byte("vendor")}),
	asHidden(NewAVPBytes(AVPVendorName, nil)),
}

// hiddenPaddedAVP is a Proxy Authen Name "bob" hidden by
// testdata/golden_gen.py with testRV1 and 13 octets of padding.
func hiddenPaddedAVP() []byte {
	return joinWire([]byte{
		0x40, 0x18, // M=0 H=1, Length 24 = 6 + 2 + 3 + 13
		0x00, 0x00, // Vendor ID
		0x00, 0x1e, // Attribute Type 30
	}, goldenHiddenPadded)
}

func TestHiddenGoldenPadding(t *testing.T) {
	// Section 4.3: padding does not change the Original Length, so the
	// clear value is "bob" whatever follows it.
	avps, err := ParseAVPs(joinWire(wireAVP(0x80, 0, 36, testRV1), hiddenPaddedAVP()), goldenSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := []AVP{NewAVPBytes(AVPRandomVector, testRV1), asHidden(NewAVPString(AVPProxyAuthenName, "bob"))}
	if diff := cmp.Diff(want, avps); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHiddenSeveralRandomVectors(t *testing.T) {
	b, err := AppendAVPs(nil, multiRV, AppendOptions{Secret: goldenSecret, Rand: noRandom{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAVPs(b, goldenSecret)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(multiRV, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Each hidden AVP was hidden with its own preceding vector: reveal the
	// raw wire values by hand with the vector section 4.3 designates.
	raw := b
	var wire [][]byte
	for len(raw) > 0 {
		n := int(raw[0]&3)<<8 | int(raw[1])
		wire = append(wire, raw[6:n])
		raw = raw[n:]
	}
	if len(wire) != len(multiRV) {
		t.Fatalf("%d AVPs on the wire, want %d (no Random Vector may be added)", len(wire), len(multiRV))
	}
	for i, rv := range map[int][]byte{1: testRV1, 4: testRV2, 5: testRV2, 6: testRV2, 7: testRV2} {
		v, err := reveal(multiRV[i].Type, wire[i], goldenSecret, rv)
		if err != nil || !bytes.Equal(v, multiRV[i].Value) {
			t.Errorf("AVP %d revealed with its vector = %q, %v; want %q", i, v, err, multiRV[i].Value)
		}
	}
	if !bytes.Contains(b, []byte("clear")) || bytes.Contains(b, []byte("alice")) || bytes.Contains(b, []byte("vendor")) {
		t.Error("hidden values visible on the wire, or clear ones not")
	}
}

func TestHiddenInsertsRandomVector(t *testing.T) {
	// Section 4.3: the Random Vector AVP MUST precede the first hidden AVP.
	rnd := bytes.NewReader(bytes.Repeat([]byte{0x5a}, 64))
	m := Message{Type: MsgICCN, AVPs: []AVP{
		NewAVPUint32(AVPTxConnectSpeed, 1),
		asHidden(NewAVPString(AVPProxyAuthenName, "alice")),
		asHidden(NewAVPString(AVPProxyAuthenResponse, "pw")),
	}}
	b, err := m.Append(nil, goldenSecret, rnd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMessage(b, goldenSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Type: MsgICCN, AVPs: []AVP{
		NewAVPUint32(AVPTxConnectSpeed, 1),
		NewAVPBytes(AVPRandomVector, bytes.Repeat([]byte{0x5a}, 16)),
		asHidden(NewAVPString(AVPProxyAuthenName, "alice")),
		asHidden(NewAVPString(AVPProxyAuthenResponse, "pw")),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Without randomness there is no vector: an error, not a panic.
	if _, err := m.Append(nil, goldenSecret, noRandom{}); err == nil {
		t.Error("Append with a failing random source succeeded")
	}
	// Default source: crypto/rand.
	b1, err1 := m.Append(nil, goldenSecret, nil)
	b2, err2 := m.Append(nil, goldenSecret, nil)
	if err1 != nil || err2 != nil || bytes.Equal(b1, b2) {
		t.Errorf("crypto/rand vectors: %v, %v, equal=%v", err1, err2, bytes.Equal(b1, b2))
	}
}

func TestHiddenPadding(t *testing.T) {
	m := Message{Type: MsgICCN, AVPs: []AVP{
		NewAVPBytes(AVPRandomVector, testRV1),
		asHidden(NewAVPString(AVPProxyAuthenName, "alice")),
	}}
	plain, err := m.Append(nil, goldenSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	lengths := map[int]bool{}
	for i := range 20 {
		rnd := bytes.NewReader(bytes.Repeat([]byte{byte(i * 13)}, 64))
		b, err := m.AppendOpts(nil, AppendOptions{Secret: goldenSecret, Rand: rnd, MaxPadding: 32})
		if err != nil {
			t.Fatal(err)
		}
		if pad := len(b) - len(plain); pad < 0 || pad > 32 {
			t.Fatalf("padding of %d octets, want 0..32", pad)
		}
		lengths[len(b)] = true
		got, err := ParseMessage(b, goldenSecret)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("padded round trip (-want +got):\n%s", diff)
		}
	}
	if len(lengths) < 5 {
		t.Errorf("padding gave only %d distinct lengths", len(lengths))
	}
}

func TestHiddenErrors(t *testing.T) {
	iccn := goldenBytes["ICCN"][ControlHeaderLen:]
	tests := []struct {
		name   string
		b      []byte
		secret []byte
		want   error
	}{
		{"no secret configured", iccn, nil, ErrNoSecret},
		{"wrong secret: impossible original length", iccn, []byte("wrong"), ErrMalformed},
		{"no Random Vector before the hidden AVP", joinWire(wireMsgType(MsgICCN), hiddenPaddedAVP(), wireAVP(0x80, 0, 36, testRV1)), goldenSecret, ErrNoRandomVector},
		{"hidden AVP of 1 octet", joinWire(wireMsgType(MsgICCN), wireAVP(0x80, 0, 36, testRV1), wireAVP(0x40, 0, 30, []byte{1})), goldenSecret, ErrMalformed},
		{"hidden AVP with no value", joinWire(wireMsgType(MsgICCN), wireAVP(0x80, 0, 36, testRV1), wireAVP(0x40, 0, 30, nil)), goldenSecret, ErrMalformed},
		{"hidden Random Vector", joinWire(wireMsgType(MsgICCN), wireAVP(0xc0, 0, 36, testRV1)), goldenSecret, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseMessage(tc.b, tc.secret); !errors.Is(err, tc.want) {
				t.Fatalf("ParseMessage = %v, want %v", err, tc.want)
			}
		})
	}

	h := asHidden(NewAVPString(AVPProxyAuthenName, "alice"))
	for _, tc := range []struct {
		name   string
		avps   []AVP
		secret []byte
		want   error
	}{
		{"append without secret", []AVP{h}, nil, ErrNoSecret},
		{"append hidden Host Name, section 4.4.3", []AVP{asHidden(NewAVPString(AVPHostName, "x"))}, goldenSecret, ErrMalformed},
		{"append hidden Random Vector", []AVP{asHidden(NewAVPBytes(AVPRandomVector, testRV1))}, goldenSecret, ErrMalformed},
		{"append hidden value too long", []AVP{asHidden(NewAVPBytes(AVPProxyAuthenName, make([]byte, 1016)))}, goldenSecret, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendAVPs(nil, tc.avps, AppendOptions{Secret: tc.secret, Rand: bytes.NewReader(make([]byte, 64))})
			if !errors.Is(err, tc.want) {
				t.Fatalf("AppendAVPs = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHiddenUnrecognized(t *testing.T) {
	// Section 4.1: an unrecognized AVP without M is processed as if absent,
	// even when it is hidden and cannot be revealed; with M it still tears
	// the session down.
	vendorHidden := func(bits byte) []byte { return wireAVP(bits, 9, 1, []byte{0xde, 0xad, 0xbe, 0xef}) }
	tests := []struct {
		name    string
		b       []byte
		secret  []byte
		unknown bool
	}{
		{"vendor hidden, no secret", joinWire(wireICRQ, vendorHidden(0x40)), nil, false},
		{"vendor hidden, no Random Vector", joinWire(wireICRQ, vendorHidden(0x40)), goldenSecret, false},
		{"unknown IETF hidden, bad Original Length", joinWire(wireICRQ, wireAVP(0x80, 0, 36, testRV1), wireAVP(0x40, 0, 40, []byte{0xff, 0xff, 0xff})), goldenSecret, false},
		{"vendor hidden mandatory, no secret", joinWire(wireICRQ, vendorHidden(0xc0)), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage(tc.b, tc.secret)
			var um *UnknownMandatoryAVPError
			if tc.unknown != errors.As(err, &um) || (!tc.unknown && err != nil) {
				t.Fatalf("ParseMessage: %v", err)
			}
			for _, a := range m.AVPs {
				if a.Hidden {
					t.Errorf("unrevealed AVP kept: %+v", a)
				}
			}
			if _, ok := m.Find(AVPAssignedSessionID); !ok {
				t.Error("message lost its Assigned Session ID")
			}
		})
	}
}

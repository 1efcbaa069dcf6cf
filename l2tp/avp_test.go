package l2tp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawAVP assembles one AVP by the layout of RFC 2661 section 4.1: bits is
// the top 6 bits (M 0x80, H 0x40, reserved 0x3c) of the first octet.
func wireAVP(bits byte, vendor, typ uint16, value []byte) []byte {
	n := 6 + len(value)
	b := []byte{bits | byte(n>>8), byte(n), byte(vendor >> 8), byte(vendor), byte(typ >> 8), byte(typ)}
	return append(b, value...)
}

// msgType is the Message Type AVP that starts every message (section 4.4.1).
func wireMsgType(t MsgType) []byte { return wireAVP(0x80, 0, 0, []byte{byte(t >> 8), byte(t)}) }

func joinWire(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// wireICRQ is a minimal valid ICRQ body (section 6.6) to which tests add AVPs.
var wireICRQ = joinWire(
	wireMsgType(MsgICRQ),
	wireAVP(0x80, 0, 14, []byte{0, 0x11}),       // Assigned Session ID
	wireAVP(0x80, 0, 15, []byte{0, 0, 0, 0x2a}), // Call Serial Number
)

func TestAVPMBitRules(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		wantLen int                       // AVPs kept in m.AVPs
		unknown *UnknownMandatoryAVPError // nil: no error
	}{
		{
			name:    "unknown IETF AVP without M is skipped by its length and kept raw, section 4.1",
			b:       joinWire(wireICRQ, wireAVP(0x00, 0, 40, []byte{1, 2, 3}), wireAVP(0x80, 0, 21, []byte("x"))),
			wantLen: 4,
		},
		{
			name:    "unknown IETF AVP with M, section 4.1",
			b:       joinWire(wireICRQ, wireAVP(0x80, 0, 40, []byte{1, 2, 3}), wireAVP(0x80, 0, 21, []byte("x"))),
			wantLen: 4,
			unknown: &UnknownMandatoryAVPError{Msg: MsgICRQ, Type: 40},
		},
		{
			name:    "unassigned type 20 with M",
			b:       joinWire(wireICRQ, wireAVP(0x80, 0, 20, nil)),
			wantLen: 3,
			unknown: &UnknownMandatoryAVPError{Msg: MsgICRQ, Type: 20},
		},
		{
			name:    "vendor AVP without M is kept raw",
			b:       joinWire(wireICRQ, wireAVP(0x00, 311, 1, []byte("ms"))),
			wantLen: 3,
		},
		{
			name:    "vendor AVP with M: unknown even if its number is an IETF one",
			b:       joinWire(wireICRQ, wireAVP(0x80, 9, 14, []byte{0, 1})),
			wantLen: 3,
			unknown: &UnknownMandatoryAVPError{Msg: MsgICRQ, VendorID: 9, Type: 14},
		},
		{
			name:    "reserved bit set, M clear: ignored as if absent, section 4.1",
			b:       joinWire(wireICRQ, wireAVP(0x04, 0, 21, []byte("x"))),
			wantLen: 2,
		},
		{
			name:    "reserved bit set on a known AVP with M: unrecognized, section 4.1",
			b:       joinWire(wireICRQ, wireAVP(0x84, 0, 21, []byte("x"))),
			wantLen: 2,
			unknown: &UnknownMandatoryAVPError{Msg: MsgICRQ, Type: 21},
		},
		{
			name:    "first unknown mandatory AVP is reported",
			b:       joinWire(wireICRQ, wireAVP(0x80, 0, 41, nil), wireAVP(0x80, 0, 42, nil)),
			wantLen: 4,
			unknown: &UnknownMandatoryAVPError{Msg: MsgICRQ, Type: 41},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage(tc.b, nil)
			if m.Type != MsgICRQ || len(m.AVPs) != tc.wantLen {
				t.Fatalf("ParseMessage = %s with %d AVPs, want ICRQ with %d", m.Type, len(m.AVPs), tc.wantLen)
			}
			if tc.unknown == nil {
				if err != nil {
					t.Fatalf("ParseMessage: %v", err)
				}
				if err := m.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var got *UnknownMandatoryAVPError
			if !errors.As(err, &got) {
				t.Fatalf("ParseMessage error = %v, want *UnknownMandatoryAVPError", err)
			}
			if diff := cmp.Diff(tc.unknown, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			// The message is still usable to tear the session down.
			if sid, _ := m.Find(AVPAssignedSessionID); !bytes.Equal(sid.Value, []byte{0, 0x11}) {
				t.Errorf("Assigned Session ID lost: %+v", sid)
			}
		})
	}
}

func TestAVPUnknownMandatoryTeardown(t *testing.T) {
	// Section 4.1 and 4.4.2: result 2 (general error), error 8, and the
	// offending attribute in the message; CDN for a session, StopCCN for
	// the tunnel.
	e := &UnknownMandatoryAVPError{Msg: MsgICRQ, Type: 40}
	r := e.Result()
	if r.Result != 2 || r.Error != 8 || !r.HasError || !strings.Contains(r.Message, "40") {
		t.Errorf("Result() = %+v, want 2/8 naming type 40", r)
	}
	for _, tc := range []struct {
		t       MsgType
		session bool
	}{
		{MsgSCCRQ, false}, {MsgSCCRP, false}, {MsgSCCCN, false}, {MsgStopCCN, false}, {MsgHELLO, false},
		{MsgOCRQ, true}, {MsgOCRP, true}, {MsgOCCN, true}, {MsgICRQ, true}, {MsgICRP, true},
		{MsgICCN, true}, {MsgCDN, true}, {MsgWEN, true}, {MsgSLI, true}, {MsgType(99), false},
	} {
		if got := tc.t.SessionScoped(); got != tc.session {
			t.Errorf("%s.SessionScoped() = %v, want %v", tc.t, got, tc.session)
		}
	}
	// Through ParseControl: the header and the message come back with the
	// error, so the caller knows which tunnel and which session to clear.
	pkt, err := AppendControl(nil, Header{TunnelID: 3, SessionID: 0}, &Message{Type: MsgSCCRQ, AVPs: []AVP{{Mandatory: true, VendorID: 9, Type: 1}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, m, err := ParseControl(pkt, nil)
	var um *UnknownMandatoryAVPError
	if !errors.As(err, &um) || m == nil || m.Type != MsgSCCRQ || h.TunnelID != 3 {
		t.Fatalf("ParseControl = %+v, %+v, %v", h, m, err)
	}
	if um.Msg.SessionScoped() {
		t.Error("SCCRQ is session scoped")
	}
}

func TestUnknownMessageType(t *testing.T) {
	for _, tc := range []struct {
		bits      byte
		mandatory bool
	}{{0x80, true}, {0x00, false}} {
		b := wireAVP(tc.bits, 0, 0, []byte{0, 5}) // 5 is reserved, section 3.2
		m, err := ParseMessage(b, nil)
		var ue *UnknownMessageError
		if !errors.As(err, &ue) || ue.Type != 5 || ue.Mandatory != tc.mandatory || m.Type != 5 {
			t.Errorf("ParseMessage(M=%v) = %+v, %v", tc.mandatory, m, err)
		}
		if r := ue.Result(); r.Result != uint16(StopCCNGeneralError) {
			t.Errorf("Result() = %+v", r)
		}
	}
}

func TestParseMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"Message Type cut", wireMsgType(MsgHELLO)[:7], ErrShort},
		{"first AVP not Message Type", joinWire(wireAVP(0x80, 0, 9, []byte{0, 1}), wireMsgType(MsgHELLO)), ErrMalformed},
		{"vendor Message Type", wireAVP(0x80, 9, 0, []byte{0, 6}), ErrMalformed},
		{"Message Type of 3 octets", wireAVP(0x80, 0, 0, []byte{0, 6, 0}), ErrMalformed},
		{"hidden Message Type, section 4.4.1", wireAVP(0xc0, 0, 0, []byte{0, 6}), ErrMalformed},
		{"AVP length under 6", joinWire(wireMsgType(MsgHELLO), []byte{0x00, 0x05, 0, 0, 0, 40}), ErrMalformed},
		{"AVP length 0", joinWire(wireMsgType(MsgHELLO), []byte{0x00, 0x00, 0, 0, 0, 40}), ErrMalformed},
		{"AVP length past the end", joinWire(wireMsgType(MsgHELLO), []byte{0x00, 0x09, 0, 0, 0, 40, 1, 2}), ErrShort},
		{"AVP header cut", joinWire(wireMsgType(MsgHELLO), []byte{0x00, 0x06, 0, 0}), ErrShort},
		{"hidden Host Name, section 4.4.3", joinWire(wireMsgType(MsgSCCRQ), wireAVP(0x80, 0, 36, []byte{1}), wireAVP(0xc0, 0, 7, []byte{1, 2, 3})), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMessage(tc.b, []byte("secret"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseMessage(% x) = %v, want %v", tc.b, err, tc.want)
			}
		})
	}
}

func TestMessageParseControlErrors(t *testing.T) {
	good := goldenBytes["HELLO"]
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated", good[:len(good)-1], ErrShort},
		{"Length over datagram", append(append([]byte{}, good[:2]...), append([]byte{0, 21}, good[4:]...)...), ErrShort},
		{"Length under datagram cuts the Message Type", append(append([]byte{}, good[:2]...), append([]byte{0, 19}, good[4:]...)...), ErrShort},
		{"oversized: AVP past Length", append(append([]byte{}, good[:2]...), append([]byte{0, 16}, good[4:]...)...), ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseControl(tc.b, nil); !errors.Is(err, tc.want) {
				t.Fatalf("ParseControl(% x) = %v, want %v", tc.b, err, tc.want)
			}
		})
	}
	// Bytes past Length (link padding) are not part of the message.
	padded := append(append([]byte{}, good...), 0, 0, 0, 0)
	if _, m, err := ParseControl(padded, nil); err != nil || m.Type != MsgHELLO || len(m.AVPs) != 0 {
		t.Errorf("ParseControl with trailing octets = %+v, %v", m, err)
	}
}

func TestMessageValidateMissing(t *testing.T) {
	// Remove each AVP section 6 requires, one at a time, from every golden
	// message: Validate names the message and the AVP.
	for _, tc := range goldenCases {
		if tc.m == nil {
			continue
		}
		for _, req := range tc.m.Type.RequiredAVPs() {
			m := Message{Type: tc.m.Type}
			for _, a := range tc.m.AVPs {
				if a.VendorID != 0 || a.Type != req {
					m.Add(a)
				}
			}
			err := m.Validate()
			var me *MissingAVPError
			if !errors.As(err, &me) || me.Msg != tc.m.Type || me.AVP != req {
				t.Errorf("%s without %s: Validate() = %v", tc.m.Type, req, err)
			}
		}
	}
	// A vendor AVP with the same number does not stand in for the IETF one.
	m := Message{Type: MsgICRP, AVPs: []AVP{{VendorID: 9, Type: AVPAssignedSessionID, Value: []byte{0, 1}}}}
	if err := m.Validate(); err == nil {
		t.Error("vendor AVP 14 accepted as Assigned Session ID")
	}
}

func TestMessageValidateMalformedOptional(t *testing.T) {
	// Section 7.1's own example: an Rx Connect Speed (M=0) of 2 octets is
	// ignored and the message accepted; so is a bad Proxy Authen ID.
	rx := NewAVPBytes(AVPRxConnectSpeed, []byte{0x12, 0x34})
	id := NewAVPBytes(AVPProxyAuthenID, []byte{1, 1})
	tx := NewAVPUint32(AVPTxConnectSpeed, 1)
	avps := []AVP{tx, rx, FramingSync.AVP(AVPFramingType), id, NewAVPBytes(AVPSequencingRequired, nil)}
	m := Message{Type: MsgOCCN, AVPs: avps}
	dropped, err := m.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if diff := cmp.Diff([]AVP{rx, id}, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]AVP{tx, FramingSync.AVP(AVPFramingType), NewAVPBytes(AVPSequencingRequired, nil)}, m.AVPs); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if avps[1].Type != AVPRxConnectSpeed {
		t.Error("Check rewrote the caller's slice")
	}
	// The same AVP with M set is fatal, with the Result Code of 4.4.2.
	rx.Mandatory = true
	m = Message{Type: MsgOCCN, AVPs: []AVP{tx, rx, FramingSync.AVP(AVPFramingType)}}
	err = m.Validate()
	var me *MalformedAVPError
	if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) || me.AVP != AVPRxConnectSpeed || me.Msg != MsgOCCN {
		t.Fatalf("Validate = %v, want *MalformedAVPError for RxConnectSpeed", err)
	}
	if r := me.Result(); r != (ResultCode{Result: 2, Error: uint16(ErrorLength), HasError: true, Message: "malformed RxConnectSpeed AVP"}) {
		t.Errorf("Result() = %+v", r)
	}
	m = Message{Type: MsgICRP, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 0)}}
	if err := m.Validate(); !errors.As(err, &me) || me.Result().Error != uint16(ErrorValueOutOfRange) {
		t.Errorf("Assigned Session ID 0: %v", err)
	}
}

func TestMessageValidateValues(t *testing.T) {
	icrp := func(avps ...AVP) Message {
		return Message{Type: MsgICRP, AVPs: append([]AVP{NewAVPUint16(AVPAssignedSessionID, 1)}, avps...)}
	}
	iccn := func(avps ...AVP) Message {
		return Message{Type: MsgICCN, AVPs: append([]AVP{NewAVPUint32(AVPTxConnectSpeed, 1), FramingSync.AVP(AVPFramingType)}, avps...)}
	}
	tests := []struct {
		name    string
		m       Message
		wantErr error // nil: valid
		avp     string
	}{
		{"Assigned Session ID of 3 octets", Message{Type: MsgICRP, AVPs: []AVP{NewAVPBytes(AVPAssignedSessionID, []byte{0, 0, 1})}}, ErrMalformed, "AssignedSessionID"},
		{"Assigned Session ID 0, section 4.4.4", Message{Type: MsgICRP, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 0)}}, ErrMalformed, "AssignedSessionID"},
		{"Assigned Tunnel ID 0, section 4.4.3", Message{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 0), ResultCode{Result: 1}.AVP()}}, ErrMalformed, "AssignedTunnelID"},
		{"Result Code of 3 octets", Message{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 1), NewAVPBytes(AVPResultCode, []byte{0, 1, 0})}}, ErrMalformed, "Result Code"},
		{"Challenge Response of 15 octets", icrp(NewAVPBytes(AVPChallengeResponse, make([]byte, 15))), ErrMalformed, "ChallengeResponse"},
		{"empty Host Name", icrp(NewAVPBytes(AVPHostName, nil)), ErrMalformed, "HostName"},
		{"Sequencing Required with a value", icrp(NewAVPBytes(AVPSequencingRequired, []byte{1})), ErrMalformed, "SequencingRequired"},
		{"Call Errors of 24 octets", icrp(NewAVPBytes(AVPCallErrors, make([]byte, 24))), ErrMalformed, "CallErrors"},
		{"Q.931 Cause of 2 octets", icrp(NewAVPBytes(AVPQ931Cause, []byte{0, 16})), ErrMalformed, "Q931Cause"},
		{"Proxy Authen ID reserved octet set, M set, section 4.4.5", icrp(AVP{Mandatory: true, Type: AVPProxyAuthenID, Value: []byte{1, 1}}), ErrMalformed, "Proxy Authen ID"},
		{"vendor AVP of any size", icrp(AVP{VendorID: 9, Type: AVPAssignedSessionID, Value: []byte{1}}), nil, ""},
		{"unknown AVP of any size", icrp(AVP{Type: 99, Value: []byte{1}}), nil, ""},
		{"PAP proxy without Response, section 4.4.5", iccn(ProxyAuthenPAP.AVP(), NewAVPString(AVPProxyAuthenName, "u"), NewAVPProxyAuthenID(1)), nil, ""},
		{"CHAP proxy complete", iccn(ProxyAuthenCHAP.AVP(), NewAVPString(AVPProxyAuthenName, "u"), NewAVPBytes(AVPProxyAuthenChallenge, []byte{1}), NewAVPProxyAuthenID(1), NewAVPBytes(AVPProxyAuthenResponse, make([]byte, 16))), nil, ""},
		{"no-authentication proxy needs nothing", iccn(ProxyAuthenNone.AVP()), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			if strings.Contains(tc.name, "without Response") {
				var me *MissingAVPError
				if !errors.As(err, &me) || me.AVP != AVPProxyAuthenResponse {
					t.Fatalf("Validate() = %v, want missing ProxyAuthenResponse", err)
				}
				return
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.avp) {
				t.Fatalf("Validate() = %v, want %v naming %s", err, tc.wantErr, tc.avp)
			}
		})
	}
}

// TestMandatoryBits checks NewAVP* against the M bit each subsection of
// RFC 2661 section 4.4 states ("The M-bit for this AVP MUST be set to ...").
func TestAVPMandatoryBits(t *testing.T) {
	notMandatory := map[AVPType]bool{
		AVPTieBreaker: true, AVPFirmwareRevision: true, AVPVendorName: true,
		AVPPhysicalChannelID: true, AVPInitialRecvLCPConfReq: true, AVPLastSentLCPConfReq: true,
		AVPLastRecvLCPConfReq: true, AVPProxyAuthenType: true, AVPProxyAuthenName: true,
		AVPProxyAuthenChallenge: true, AVPProxyAuthenID: true, AVPProxyAuthenResponse: true,
		AVPPrivateGroupID: true, AVPRxConnectSpeed: true,
	}
	for typ := AVPType(0); typ <= 39; typ++ {
		if typ == 20 {
			continue
		}
		if got, want := NewAVPBytes(typ, []byte{1}).Mandatory, !notMandatory[typ]; got != want {
			t.Errorf("%s: M = %v, want %v", typ, got, want)
		}
	}
	if NewAVPUint16(20, 1).Mandatory || NewAVPUint16(40, 1).Mandatory {
		t.Error("undefined AVP types built with M set")
	}
}

func TestAVPGetters(t *testing.T) {
	if v, err := NewAVPUint16(AVPReceiveWindowSize, 0xbeef).Uint16(); err != nil || v != 0xbeef {
		t.Errorf("Uint16 = %#x, %v", v, err)
	}
	if v, err := NewAVPUint32(AVPCallSerialNumber, 0xdeadbeef).Uint32(); err != nil || v != 0xdeadbeef {
		t.Errorf("Uint32 = %#x, %v", v, err)
	}
	if v, err := NewAVPUint64(AVPTieBreaker, 1<<60).Uint64(); err != nil || v != 1<<60 {
		t.Errorf("Uint64 = %#x, %v", v, err)
	}
	for _, a := range []AVP{NewAVPBytes(AVPReceiveWindowSize, []byte{1}), NewAVPUint32(AVPReceiveWindowSize, 1)} {
		if _, err := a.Uint16(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "ReceiveWindowSize") {
			t.Errorf("Uint16 of %d octets = %v", len(a.Value), err)
		}
	}
	if _, err := NewAVPUint16(AVPTxConnectSpeed, 1).Uint32(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Uint32 of 2 octets = %v", err)
	}
	v := []byte("abc")
	a := NewAVPBytes(AVPHostName, v)
	v[0] = 'x'
	if string(a.Value) != "abc" {
		t.Error("NewAVPBytes keeps the caller's slice")
	}
}

func TestAppendAVPErrors(t *testing.T) {
	long := make([]byte, 1018)
	if _, err := (Message{Type: MsgHELLO, AVPs: []AVP{{Type: 99, Value: long}}}).Append(nil, nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("AVP value of 1018 octets: %v", err)
	}
	if b, err := (Message{Type: MsgHELLO, AVPs: []AVP{{Type: 99, Value: long[:1017]}}}).Append(nil, nil, nil); err != nil || len(b) != 8+1023 {
		t.Errorf("AVP value of 1017 octets: %d, %v", len(b), err)
	}
	// A whole control message over 65535 octets.
	m := &Message{Type: MsgHELLO}
	for range 70 {
		m.Add(AVP{Type: 99, Value: long[:1000]})
	}
	if _, err := AppendControl(nil, Header{}, m, nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("70 KB control message: %v", err)
	}
	if _, err := AppendControl(nil, Header{HasOffset: true}, nil, nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("control header with O: %v", err)
	}
}

// avpSeeds are AVP lists to seed FuzzParseAVPs: the golden messages
// without their control header, and hidden AVPs after several Random Vectors.
func avpSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, tc := range goldenCases {
		if b := goldenBytes[tc.name]; len(b) > ControlHeaderLen {
			seeds = append(seeds, b[ControlHeaderLen:])
		}
	}
	b, err := AppendAVPs(nil, multiRV, AppendOptions{Secret: goldenSecret, Rand: bytes.NewReader(make([]byte, 1024)), MaxPadding: 8})
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, b, joinWire(wireAVP(0x80, 0, 36, []byte{1, 2}), hiddenPaddedAVP()))
}

func FuzzParseAVPs(f *testing.F) {
	for _, s := range avpSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		avps, err := ParseAVPs(b, goldenSecret)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoRandomVector) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, err := AppendAVPs(nil, avps, AppendOptions{Secret: goldenSecret, Rand: bytes.NewReader(make([]byte, 64))})
		if err != nil {
			t.Fatalf("AppendAVPs(%+v): %v", avps, err)
		}
		again, err := ParseAVPs(out, goldenSecret)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", out, err)
		}
		if diff := cmp.Diff(avps, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

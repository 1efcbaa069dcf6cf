package l2tp

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"hash"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// digestPlaceholder is the zeroed Message Digest AVP a message to be
// signed carries right after its Message Type.
func digestPlaceholder(t DigestType) AVP { return MessageDigest{Type: t}.AVP() }

var md5Digest, sha1Digest = digestPlaceholder(DigestHMACMD5), digestPlaceholder(DigestHMACSHA1)

// v3GoldenCases pair each golden message of v3golden_test.go (made by
// testdata/golden_v3_gen.py) with the header and message it carries.
// Section numbers are those of RFC 3931 section 6. The Message Digest AVPs
// are the zeroed placeholders the sender signs.
var v3GoldenCases = []struct {
	name string
	h    V3ControlHeader
	m    *Message
}{
	{
		name: "SCCRQ", // 6.1
		h:    V3ControlHeader{Length: 147},
		m: &Message{Type: MsgSCCRQ, AVPs: []AVP{
			md5Digest,
			NewV3AVPString(AVPHostName, "lac1"),
			NewV3AVPUint32(AVPRouterID, 0x0a000001),
			NewV3AVPUint32(AVPAssignedConnID, 0x11223344),
			PWCapabilities{PWPPP, PWEthernet, PWEthernetVLAN}.AVP(),
			NewV3AVP(AVPNonce, v3GoldenNonceA),
			NewV3AVPUint64(AVPControlConnectionTieBreaker, 0x0102030405060708),
			NewV3AVPString(AVPVendorName, "bras"),
			NewV3AVPUint16(AVPReceiveWindowSize, 16),
			NewV3AVPString(AVPPreferredLanguage, "en"),
		}},
	},
	{
		name: "SCCRP", // 6.2
		h:    V3ControlHeader{Length: 123, ConnID: 0x11223344, Nr: 1},
		m: &Message{Type: MsgSCCRP, AVPs: []AVP{
			md5Digest,
			NewV3AVPString(AVPHostName, "lns1"),
			NewV3AVPUint32(AVPRouterID, 0x0a000002),
			NewV3AVPUint32(AVPAssignedConnID, 0x55667788),
			PWCapabilities{PWPPP, PWEthernet}.AVP(),
			NewV3AVP(AVPNonce, v3GoldenNonceB),
			NewV3AVPString(AVPVendorName, "bras"),
			NewV3AVPUint16(AVPReceiveWindowSize, 8),
		}},
	},
	{
		name: "SCCCN", // 6.3
		h:    V3ControlHeader{Length: 47, ConnID: 0x55667788, Ns: 1, Nr: 1},
		m:    &Message{Type: MsgSCCCN, AVPs: []AVP{sha1Digest}},
	},
	{
		name: "HELLO", // 6.5
		h:    V3ControlHeader{Length: 43, ConnID: 0x11223344, Ns: 1, Nr: 2},
		m:    &Message{Type: MsgHELLO, AVPs: []AVP{md5Digest}},
	},
	{
		name: "ACK", // 6.15
		h:    V3ControlHeader{Length: 43, ConnID: 0x55667788, Ns: 2, Nr: 2},
		m:    &Message{Type: MsgACK, AVPs: []AVP{md5Digest}},
	},
	{
		name: "ICRQ", // 6.6
		h:    V3ControlHeader{Length: 181, ConnID: 0x55667788, Ns: 2, Nr: 2},
		m: &Message{Type: MsgICRQ, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00010001),
			NewV3AVPUint32(AVPRemoteSessionID, 0),
			NewV3AVPUint32(AVPSerialNumber, 1),
			PWPPP.AVP(),
			NewV3AVPString(AVPRemoteEndID, "eth0.100"),
			CircuitStatus{Active: true, New: true}.AVP(),
			Cookie{Len: 4, Value: 0xdeadbeef}.AVP(),
			NewV3AVPUint64(AVPSessionTieBreaker, 0x1112131415161718),
			SublayerDefault.AVP(),
			SequenceAll.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 1000000000),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 100000000),
			NewV3AVPUint32(AVPPhysicalChannelID, 7),
		}},
	},
	{
		name: "ICRP", // 6.7
		h:    V3ControlHeader{Length: 139, ConnID: 0x11223344, Ns: 2, Nr: 3},
		m: &Message{Type: MsgICRP, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00020002),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00010001),
			CircuitStatus{Active: true}.AVP(),
			Cookie{Len: 8, Value: 0x0102030405060708}.AVP(),
			SublayerDefault.AVP(),
			SequenceNone.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 100000000),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 1000000000),
			NewV3AVPUint32(AVPPhysicalChannelID, 9),
		}},
	},
	{
		name: "ICCN", // 6.8, a PPP pseudowire with hidden proxy authentication (section 5.3)
		h:    V3ControlHeader{Length: 192, ConnID: 0x55667788, Ns: 3, Nr: 3},
		m: &Message{Type: MsgICCN, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00010001),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00020002),
			SublayerDefault.AVP(),
			SequenceAll.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 1000000000),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 100000000),
			CircuitStatus{Active: true}.AVP(),
			ProxyAuthenPAP.AVP(),
			NewV3AVP(AVPRandomVector, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}),
			asHidden(NewV3AVPString(AVPProxyAuthenName, "alice")),
			NewAVPProxyAuthenID(1),
			asHidden(NewV3AVPString(AVPProxyAuthenResponse, "password1234567890")),
		}},
	},
	{
		name: "OCRQ", // 6.9, an Ethernet pseudowire
		h:    V3ControlHeader{Length: 164, ConnID: 0x11223344, Ns: 3, Nr: 4},
		m: &Message{Type: MsgOCRQ, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00020003),
			NewV3AVPUint32(AVPRemoteSessionID, 0),
			NewV3AVPUint32(AVPSerialNumber, 2),
			PWEthernet.AVP(),
			NewV3AVPString(AVPRemoteEndID, "port1"),
			CircuitStatus{Active: true, New: true}.AVP(),
			Cookie{}.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 0),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 0),
			NewV3AVPUint64(AVPSessionTieBreaker, 0x2122232425262728),
			SublayerNone.AVP(),
			SequenceNone.AVP(),
		}},
	},
	{
		name: "OCRP", // 6.10
		h:    V3ControlHeader{Length: 135, ConnID: 0x55667788, Ns: 4, Nr: 4},
		m: &Message{Type: MsgOCRP, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00010003),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00020003),
			CircuitStatus{Active: true}.AVP(),
			Cookie{Len: 4, Value: 0xcafef00d}.AVP(),
			SublayerNone.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 10000000),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 10000000),
			SequenceNonIP.AVP(),
			NewV3AVPUint32(AVPPhysicalChannelID, 3),
		}},
	},
	{
		name: "OCCN", // 6.11
		h:    V3ControlHeader{Length: 115, ConnID: 0x55667788, Ns: 5, Nr: 4},
		m: &Message{Type: MsgOCCN, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00010003),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00020003),
			SublayerNone.AVP(),
			NewV3AVPUint64(AVPTxConnectSpeedV3, 10000000),
			NewV3AVPUint64(AVPRxConnectSpeedV3, 10000000),
			SequenceNonIP.AVP(),
			CircuitStatus{Active: true}.AVP(),
		}},
	},
	{
		name: "SLI", // 6.14
		h:    V3ControlHeader{Length: 71, ConnID: 0x11223344, Ns: 4, Nr: 6},
		m: &Message{Type: MsgSLI, AVPs: []AVP{
			md5Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00020002),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00010001),
			CircuitStatus{}.AVP(),
		}},
	},
	{
		name: "WEN", // 6.13
		h:    V3ControlHeader{Length: 99, ConnID: 0x55667788, Ns: 6, Nr: 5},
		m: &Message{Type: MsgWEN, AVPs: []AVP{
			sha1Digest,
			NewV3AVPUint32(AVPLocalSessionID, 0x00010001),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00020002),
			CircuitErrors{CRC: 1, Framing: 2, HardwareOverruns: 3, BufferOverruns: 4, Timeout: 5, Alignment: 6}.AVP(),
		}},
	},
	{
		name: "CDN", // 6.12
		h:    V3ControlHeader{Length: 71, ConnID: 0x11223344, Ns: 5, Nr: 7},
		m: &Message{Type: MsgCDN, AVPs: []AVP{
			md5Digest,
			ResultCode{Result: uint16(CDNUnsupportedPWType)}.AVP(),
			NewV3AVPUint32(AVPLocalSessionID, 0x00020003),
			NewV3AVPUint32(AVPRemoteSessionID, 0x00010003),
		}},
	},
	{
		name: "StopCCN", // 6.4
		h:    V3ControlHeader{Length: 66, ConnID: 0x55667788, Ns: 7, Nr: 6},
		m: &Message{Type: MsgStopCCN, AVPs: []AVP{
			md5Digest,
			ResultCode{Result: uint16(StopCCNGeneralRequest), HasError: true, Message: "bye"}.AVP(),
			NewV3AVPUint32(AVPAssignedConnID, 0x11223344),
		}},
	},
	{
		name: "ZLB", // 6.15: a control connection without authentication
		h:    V3ControlHeader{Length: 12, ConnID: 0x11223344, Ns: 6, Nr: 8},
	},
}

// v3Sender returns who sent the golden message name.
func v3Sender(name string) string {
	for _, o := range v3GoldenOrder {
		if o.name == name {
			return o.sender
		}
	}
	panic("no golden message " + name)
}

// v3Nonces returns the nonces as the sender of the golden message name
// sees them (local first) and as its receiver does.
func v3Nonces(name string) (senderLocal, senderRemote []byte) {
	if v3Sender(name) == "A" {
		return v3GoldenNonceA, v3GoldenNonceB
	}
	return v3GoldenNonceB, v3GoldenNonceA
}

// zeroDigests replaces the Message Digest AVPs of m by their placeholders.
func zeroDigests(m *Message) {
	for i, a := range m.AVPs {
		if a.VendorID == 0 && a.Type == AVPMessageDigest && len(a.Value) > 0 {
			m.AVPs[i] = digestPlaceholder(DigestType(a.Value[0]))
		}
	}
}

func TestV3GoldenCasesCoverEveryMessage(t *testing.T) {
	// Section 3.1: every message type, ACK included, plus a ZLB.
	seen := map[MsgType]bool{}
	for _, tc := range v3GoldenCases {
		if tc.m != nil {
			seen[tc.m.Type] = true
		}
	}
	for typ := range MsgType(21) {
		if typ.KnownV3() != seen[typ] {
			t.Errorf("%s: KnownV3 %v, golden %v", typ, typ.KnownV3(), seen[typ])
		}
	}
	if len(v3GoldenCases) != len(v3GoldenOrder) {
		t.Errorf("%d cases, %d golden messages", len(v3GoldenCases), len(v3GoldenOrder))
	}
}

func TestV3GoldenParse(t *testing.T) {
	for _, tc := range v3GoldenCases {
		t.Run(tc.name, func(t *testing.T) {
			h, m, err := ParseV3Control(v3GoldenBytes[tc.name], EncapUDP, v3GoldenSecret)
			if err != nil {
				t.Fatalf("ParseV3Control: %v", err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if m != nil {
				if err := m.ValidateV3(); err != nil {
					t.Errorf("ValidateV3: %v", err)
				}
				zeroDigests(m)
			}
			if diff := cmp.Diff(tc.m, m); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestV3GoldenAppend builds every golden message with AppendV3Control and
// signs it with SignMessage as its sender would: the bytes must be the
// generator's, digests included.
func TestV3GoldenAppend(t *testing.T) {
	key := NewAuthKey(v3GoldenSecret)
	for _, tc := range v3GoldenCases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.Length = 0 // computed
			prefix := []byte{0xaa, 0xbb}
			b, err := AppendV3Control(prefix, EncapUDP, h, tc.m, AppendOptions{Secret: v3GoldenSecret, Rand: noRandom{}})
			if err != nil {
				t.Fatalf("AppendV3Control: %v", err)
			}
			if tc.m != nil {
				local, remote := v3Nonces(tc.name)
				if err := SignMessage(b[len(prefix):], local, remote, key); err != nil {
					t.Fatalf("SignMessage: %v", err)
				}
			}
			if diff := cmp.Diff(v3GoldenBytes[tc.name], b[len(prefix):]); diff != "" {
				t.Errorf("AppendV3Control (-want +got):\n%s", diff)
			}
			if !bytes.Equal(b[:len(prefix)], []byte{0xaa, 0xbb}) {
				t.Errorf("prefix overwritten: % x", b[:len(prefix)])
			}
		})
	}
}

// TestV3GoldenOverIP: over IP the same messages follow a zero Session ID
// (section 4.1.1.2), and their digests do not cover it (section 5.4.1).
func TestV3GoldenOverIP(t *testing.T) {
	key := NewAuthKey(v3GoldenSecret)
	for _, tc := range v3GoldenCases {
		want := append([]byte{0, 0, 0, 0}, v3GoldenBytes[tc.name]...)
		h := tc.h
		b, err := AppendV3Control(nil, EncapIP, h, tc.m, AppendOptions{Secret: v3GoldenSecret, Rand: noRandom{}})
		if err != nil {
			t.Fatalf("%s: AppendV3Control: %v", tc.name, err)
		}
		if tc.m != nil {
			local, remote := v3Nonces(tc.name)
			if err := SignMessage(b[EncapIP.ControlOffset():], local, remote, key); err != nil {
				t.Fatalf("%s: SignMessage: %v", tc.name, err)
			}
		}
		if !bytes.Equal(want, b) {
			t.Errorf("%s over IP:\n got % x\nwant % x", tc.name, b, want)
		}
		gh, m, err := ParseV3Control(want, EncapIP, v3GoldenSecret)
		if err != nil || gh != tc.h || (m == nil) != (tc.m == nil) {
			t.Errorf("%s: ParseV3Control over IP = %+v, %v", tc.name, gh, err)
		}
	}
}

// TestV3GoldenDigests checks the golden digests with crypto/hmac directly,
// following section 5.4.1 by hand: the key is HMAC-MD5(secret, 2), the data
// the sender's nonce, the receiver's, then the message with the digest
// zeroed; an SCCRQ has no nonces. Then VerifyMessage accepts each message
// as its receiver sees it.
func TestV3GoldenDigests(t *testing.T) {
	m := hmac.New(md5.New, v3GoldenSecret)
	m.Write([]byte{2})
	if key := m.Sum(nil); !bytes.Equal(key, v3GoldenAuthKey[:]) || NewAuthKey(v3GoldenSecret) != AuthKey(v3GoldenAuthKey) {
		t.Fatalf("auth key % x, generator % x, NewAuthKey % x", key, v3GoldenAuthKey, NewAuthKey(v3GoldenSecret))
	}
	m = hmac.New(md5.New, v3GoldenSecret)
	m.Write([]byte{1})
	if key := m.Sum(nil); !bytes.Equal(key, v3GoldenHidingKey[:]) || HidingKey(v3GoldenSecret) != v3GoldenHidingKey {
		t.Fatalf("hiding key % x, generator % x", key, v3GoldenHidingKey)
	}
	for _, tc := range v3GoldenCases {
		if tc.m == nil {
			continue
		}
		g := v3GoldenBytes[tc.name]
		// Message Type is the 8 octets after the header; the digest AVP
		// follows: 6 octets of header, the Digest Type, the digest.
		dt := g[12+8+6]
		var newHash func() hash.Hash = md5.New
		n := md5.Size
		if dt == 1 {
			newHash, n = sha1.New, sha1.Size
		}
		zeroed := append([]byte(nil), g...)
		clear(zeroed[12+8+7 : 12+8+7+n])
		mac := hmac.New(newHash, v3GoldenAuthKey[:])
		local, remote := v3Nonces(tc.name)
		if tc.m.Type != MsgSCCRQ {
			mac.Write(local)
			mac.Write(remote)
		}
		mac.Write(zeroed)
		if want, got := mac.Sum(nil), g[12+8+7:12+8+7+n]; !bytes.Equal(want, got) {
			t.Errorf("%s: digest % x, want % x", tc.name, got, want)
		}
		// The receiver's local nonce is the sender's remote one.
		if err := VerifyMessage(g, remote, local, NewAuthKey(v3GoldenSecret)); err != nil {
			t.Errorf("%s: VerifyMessage: %v", tc.name, err)
		}
	}
}

func digestFault(err error) DigestFault {
	var de *DigestError
	if errors.As(err, &de) {
		return de.Fault
	}
	return 0
}

// v3Signed builds and signs a message from A to B over UDP.
func v3Signed(t *testing.T, m *Message, keys ...AuthKey) []byte {
	t.Helper()
	b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: 9, Ns: 1}, m, AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, v3GoldenNonceA, v3GoldenNonceB, keys...); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestV3DigestRefused: section 5.4.1, a message whose digest is wrong,
// truncated, misplaced or missing is dropped before it is used.
func TestV3DigestRefused(t *testing.T) {
	key := NewAuthKey(v3GoldenSecret)
	good := v3GoldenBytes["ICRQ"]
	verify := func(b []byte, keys ...AuthKey) error {
		return VerifyMessage(b, v3GoldenNonceB, v3GoldenNonceA, keys...) // as B receives from A
	}
	if err := verify(good, key); err != nil {
		t.Fatalf("golden ICRQ: %v", err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		keys  []AuthKey
		fault DigestFault
	}{
		{"digest bit flipped", flip(12 + 8 + 7), []AuthKey{key}, DigestMismatch},
		{"Ns changed", flip(9), []AuthKey{key}, DigestMismatch},
		{"an AVP value changed", flip(len(good) - 1), []AuthKey{key}, DigestMismatch},
		{"wrong secret", good, []AuthKey{NewAuthKey([]byte("other"))}, DigestMismatch},
		{"no key", good, nil, DigestMismatch},
		{"ZLB", v3GoldenBytes["ZLB"], []AuthKey{key}, DigestMissing},
	} {
		err := verify(tc.b, tc.keys...)
		if f := digestFault(err); f != tc.fault || !errors.Is(err, ErrDigest) {
			t.Errorf("%s: %v (fault %v), want fault %v", tc.name, err, f, tc.fault)
		}
	}
	// Nonces in the sender's order rather than the receiver's.
	if err := VerifyMessage(good, v3GoldenNonceA, v3GoldenNonceB, key); digestFault(err) != DigestMismatch {
		t.Errorf("nonces swapped: %v", err)
	}

	// Built messages: truncated digest, unknown type, misplaced, absent.
	hello := func(avps ...AVP) []byte {
		b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: 9}, &Message{Type: MsgHELLO, AVPs: avps}, AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	random := NewV3AVP(AVPRandomVector, []byte{1, 2, 3, 4})
	for _, tc := range []struct {
		name  string
		b     []byte
		fault DigestFault
	}{
		{"truncated MD5 digest", hello(NewV3AVP(AVPMessageDigest, append([]byte{0}, make([]byte, 15)...))), DigestMalformed},
		{"SHA-1 type with an MD5 length", hello(NewV3AVP(AVPMessageDigest, append([]byte{1}, make([]byte, 16)...))), DigestMalformed},
		{"unknown digest type", hello(NewV3AVP(AVPMessageDigest, append([]byte{2}, make([]byte, 16)...))), DigestMalformed},
		{"hidden digest", func() []byte { b := hello(md5Digest); b[12+8] |= 0x40; return b }(), DigestMalformed},
		{"digest in third place", hello(random, md5Digest), DigestMisplaced},
		{"no digest", hello(random), DigestMissing},
		{"no AVP after Message Type", hello(), DigestMissing},
	} {
		if err := SignMessage(append([]byte(nil), tc.b...), nil, nil, key); digestFault(err) != tc.fault {
			t.Errorf("SignMessage %s: %v, want fault %v", tc.name, err, tc.fault)
		}
		if err := verify(tc.b, key); digestFault(err) != tc.fault {
			t.Errorf("VerifyMessage %s: %v, want fault %v", tc.name, err, tc.fault)
		}
	}
	// A digest AVP cut by the message Length is a malformed header, not a
	// digest: the header error comes back.
	short := append([]byte(nil), good[:30]...)
	binary.BigEndian.PutUint16(short[2:], 30)
	if err := verify(short, key); !errors.Is(err, ErrDigest) && !errors.Is(err, ErrShort) {
		t.Errorf("digest cut by Length: %v", err)
	}
	if err := verify(good[:20], key); !errors.Is(err, ErrShort) {
		t.Errorf("datagram cut in the message: %v", err)
	}
	// Not one key for each digest AVP.
	if err := SignMessage(hello(md5Digest), nil, nil, key, key); digestFault(err) != DigestMissing {
		t.Errorf("two keys, one digest: %v", err)
	}
}

// TestV3DigestTwoSecrets: during a change of secret a message carries two
// digests, and is accepted when either matches a configured key (section
// 5.4.1).
func TestV3DigestTwoSecrets(t *testing.T) {
	oldKey, newKey, other := NewAuthKey([]byte("old")), NewAuthKey([]byte("new")), NewAuthKey([]byte("x"))
	b := v3Signed(t, &Message{Type: MsgHELLO, AVPs: []AVP{md5Digest, sha1Digest}}, oldKey, newKey)
	for _, tc := range []struct {
		name string
		keys []AuthKey
		ok   bool
	}{
		{"old key", []AuthKey{oldKey}, true},
		{"new key", []AuthKey{newKey}, true},
		{"both", []AuthKey{other, newKey}, true},
		{"neither", []AuthKey{other}, false},
	} {
		err := VerifyMessage(b, v3GoldenNonceB, v3GoldenNonceA, tc.keys...)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Each digest was computed with both digest fields zeroed: check the
	// second with crypto/hmac by hand.
	zeroed := append([]byte(nil), b...)
	clear(zeroed[12+8+7 : 12+8+7+16])
	clear(zeroed[12+8+23+7 : 12+8+23+7+20])
	mac := hmac.New(sha1.New, newKey[:])
	mac.Write(v3GoldenNonceA)
	mac.Write(v3GoldenNonceB)
	mac.Write(zeroed)
	if got := b[12+8+23+7 : 12+8+23+7+20]; !bytes.Equal(got, mac.Sum(nil)) {
		t.Errorf("second digest % x, want % x", got, mac.Sum(nil))
	}
}

// TestV3IntegrityOnly: without authentication the digest may still be
// sent, keyed with an empty secret and no nonces (section 4.3).
func TestV3IntegrityOnly(t *testing.T) {
	key := NewAuthKey(nil)
	b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: 1}, &Message{Type: MsgHELLO, AVPs: []AVP{md5Digest}}, AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, nil, nil, key); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, key[:])
	zeroed := append([]byte(nil), b...)
	clear(zeroed[27:43])
	mac.Write(zeroed)
	if !bytes.Equal(b[27:43], mac.Sum(nil)) {
		t.Errorf("integrity digest % x, want % x", b[27:43], mac.Sum(nil))
	}
	if err := VerifyMessage(b, nil, nil, key); err != nil {
		t.Errorf("VerifyMessage: %v", err)
	}
	b[len(b)-1] ^= 1 // corrupted in transit
	if err := VerifyMessage(b, nil, nil, key); digestFault(err) != DigestMismatch {
		t.Errorf("corrupted: %v", err)
	}
}

// TestV3HiddenKey: L2TPv3 hides with the derived shared key, not the
// secret (section 5.3), so an L2TPv2 reveal of a v3 hidden AVP fails and
// the other way round; the value itself is the generator's.
func TestV3HiddenKey(t *testing.T) {
	_, m, err := ParseV3Control(v3GoldenBytes["ICCN"], EncapUDP, v3GoldenSecret)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := m.Find(AVPProxyAuthenName)
	if !name.Hidden || string(name.Value) != "alice" {
		t.Errorf("Proxy Authen Name = %+v", name)
	}
	// The hidden octets as on the wire, revealed by hand with the
	// generator's key: MD5(type || key || RV) XOR the subformat.
	rv := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	raw := hiddenRaw(t, v3GoldenBytes["ICCN"][V3ControlHeaderLen:], AVPProxyAuthenName)
	h := md5.New()
	h.Write([]byte{0, byte(AVPProxyAuthenName)})
	h.Write(v3GoldenHidingKey[:])
	h.Write(rv)
	sum := h.Sum(nil)
	clearText := make([]byte, len(raw))
	for i := range raw {
		clearText[i] = raw[i] ^ sum[i]
	}
	if want := append([]byte{0, 5}, "alice"...); !bytes.Equal(clearText, want) {
		t.Errorf("revealed by hand % x, want % x", clearText, want)
	}
	// Keyed with the secret itself (the v2 rule), the value does not come out.
	if v, err := reveal(AVPProxyAuthenName, raw, v3GoldenSecret, rv); err == nil && string(v) == "alice" {
		t.Error("the secret itself reveals a v3 hidden AVP")
	}
	// A wrong secret is refused, never silently accepted as "alice".
	if _, m, err := ParseV3Control(v3GoldenBytes["ICCN"], EncapUDP, []byte("wrong")); err == nil {
		if a, _ := m.Find(AVPProxyAuthenName); string(a.Value) == "alice" {
			t.Error("wrong secret reveals the value")
		}
	}
	if _, _, err := ParseV3Control(v3GoldenBytes["ICCN"], EncapUDP, nil); !errors.Is(err, ErrNoSecret) {
		t.Errorf("no secret: %v, want ErrNoSecret", err)
	}
}

// hiddenRaw returns the value of AVP t as it is on the wire in payload.
func hiddenRaw(t *testing.T, payload []byte, typ AVPType) []byte {
	t.Helper()
	for len(payload) >= avpHeaderLen {
		n := int(binary.BigEndian.Uint16(payload) & avpLenMask)
		if AVPType(binary.BigEndian.Uint16(payload[4:])) == typ {
			return payload[avpHeaderLen:n]
		}
		payload = payload[n:]
	}
	t.Fatalf("no %s", typ)
	return nil
}

// TestV3MBit follows RFC 3931 section 5.2: an unrecognised AVP with the M
// bit set shuts down the session (CDN, for a session message) or the
// control connection (StopCCN) with result 2 and error 8; without the M bit
// it is ignored. RFC 2661 AVPs stay recognised (PPP pseudowires).
func TestV3MBit(t *testing.T) {
	msg := func(typ MsgType, avps ...AVP) []byte {
		b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: 1}, &Message{Type: typ, AVPs: avps}, AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	unknownM := AVP{Mandatory: true, Type: 200, Value: []byte{1}}
	for _, tc := range []struct {
		name    string
		b       []byte
		unknown bool
		session bool
	}{
		{"unknown M=1 in ICRQ", msg(MsgICRQ, md5Digest, unknownM), true, true},
		{"unknown M=1 in SCCRQ", msg(MsgSCCRQ, unknownM), true, false},
		{"vendor M=1 in SLI", msg(MsgSLI, AVP{Mandatory: true, VendorID: 9, Type: 1}), true, true},
		{"RFC 4951 Failover Capability M=1 in SCCRQ", msg(MsgSCCRQ, AVP{Mandatory: true, Type: AVPFailoverCapability, Value: make([]byte, 6)}), true, false},
		{"Extended Vendor ID M=1 in HELLO", msg(MsgHELLO, AVP{Mandatory: true, Type: AVPExtendedVendorID, Value: make([]byte, 6)}), true, false},
		{"unknown M=0 in ICRQ", msg(MsgICRQ, AVP{Type: 200, Value: []byte{1}}), false, true},
		{"RFC 2661 Framing Type M=1 in ICCN", msg(MsgICCN, FramingSync.AVP(AVPFramingType)), false, true},
	} {
		_, m, err := ParseV3Control(tc.b, EncapUDP, nil)
		var um *UnknownMandatoryAVPError
		if got := errors.As(err, &um); got != tc.unknown {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if m == nil {
			t.Errorf("%s: no message returned", tc.name)
			continue
		}
		if m.Type.SessionScoped() != tc.session {
			t.Errorf("%s: %s session scoped %v", tc.name, m.Type, m.Type.SessionScoped())
		}
		if tc.unknown {
			if rc := um.Result(); rc.Result != 2 || rc.Error != uint16(ErrorUnknownMandatoryAVP) {
				t.Errorf("%s: Result %+v, want 2/8", tc.name, rc)
			}
		}
	}
	// Message types: unknown with M=1 clears the connection; a vendor's.
	b := msg(MsgType(5))
	var ue *UnknownMessageError
	if _, _, err := ParseV3Control(b, EncapUDP, nil); !errors.As(err, &ue) || !ue.Mandatory {
		t.Errorf("message type 5: %v", err)
	}
	b = msg(MsgSCCRQ)
	b[12+3] = 9 // Vendor ID 9 on the Message Type AVP: a vendor message 1
	if _, _, err := ParseV3Control(b, EncapUDP, nil); !errors.As(err, &ue) || ue.VendorID != 9 || ue.Type != 1 {
		t.Errorf("vendor message: %v", err)
	}
	// ACK is a v3 message only.
	if _, err := ParseMessage(msg(MsgACK)[12:], nil); !errors.As(err, &ue) {
		t.Errorf("ACK as L2TPv2: %v", err)
	}
	// AVPs section 5.4 says must not be hidden.
	for _, typ := range []AVPType{AVPMessageDigest, AVPNonce, AVPRouterID, AVPHostName, AVPResultCode} {
		if typ.HideableV3() {
			t.Errorf("%s hideable", typ)
		}
		if _, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{}, &Message{Type: MsgHELLO, AVPs: []AVP{asHidden(NewV3AVP(typ, []byte{0, 0, 0, 1}))}}, AppendOptions{Secret: []byte("s")}); !errors.Is(err, ErrMalformed) {
			t.Errorf("hidden %s appended: %v", typ, err)
		}
	}
}

// TestV3ValidateMissing removes each required AVP of each golden message
// in turn: section 6 makes the message unacceptable.
func TestV3ValidateMissing(t *testing.T) {
	for _, tc := range v3GoldenCases {
		if tc.m == nil {
			continue
		}
		for _, req := range tc.m.Type.RequiredAVPsV3() {
			m := Message{Type: tc.m.Type}
			for _, a := range tc.m.AVPs {
				if a.Type != req {
					m.AVPs = append(m.AVPs, a)
				}
			}
			var me *MissingAVPError
			if err := m.ValidateV3(); !errors.As(err, &me) || me.AVP != req || me.Msg != tc.m.Type {
				t.Errorf("%s without %s: %v", tc.name, req, err)
			}
		}
		for _, a := range tc.m.AVPs {
			if a.VendorID == 0 && !tc.m.Type.AllowsV3(a.Type) && a.Type.KnownV3() && !isPPPAVP(a.Type) {
				t.Errorf("%s: %s not allowed", tc.name, a.Type)
			}
		}
	}
	for _, tc := range []struct {
		m    MsgType
		a    AVPType
		want bool
	}{
		{MsgSCCRQ, AVPNonce, true},
		{MsgSCCCN, AVPNonce, false},
		{MsgICRQ, AVPAssignedCookie, true},
		{MsgICCN, AVPAssignedCookie, false},
		{MsgACK, AVPMessageDigest, true},
		{MsgHELLO, AVPRandomVector, true},
		{MsgType(5), AVPMessageDigest, false},
	} {
		if got := tc.m.AllowsV3(tc.a); got != tc.want {
			t.Errorf("%s.AllowsV3(%s) = %v, want %v", tc.m, tc.a, got, tc.want)
		}
	}
}

func isPPPAVP(t AVPType) bool { return t >= AVPProxyAuthenType && t <= AVPProxyAuthenResponse }

// TestV3ValidateValues: section 7.1, a malformed recognised AVP is fatal
// with M=1 and dropped with M=0.
func TestV3ValidateValues(t *testing.T) {
	base := func(extra ...AVP) Message {
		return Message{Type: MsgICRP, AVPs: append([]AVP{
			NewV3AVPUint32(AVPLocalSessionID, 2),
			NewV3AVPUint32(AVPRemoteSessionID, 0), // zero is allowed: not yet known
			CircuitStatus{Active: true}.AVP(),
		}, extra...)}
	}
	for _, tc := range []struct {
		name string
		a    AVP
		code ErrorCode
	}{
		{"Local Session ID 0", NewV3AVPUint32(AVPLocalSessionID, 0), ErrorValueOutOfRange},
		{"Assigned Control Connection ID 0", NewV3AVPUint32(AVPAssignedConnID, 0), ErrorValueOutOfRange},
		{"cookie of 3", NewV3AVP(AVPAssignedCookie, []byte{1, 2, 3}), ErrorLength},
		{"cookie of 9", NewV3AVP(AVPAssignedCookie, make([]byte, 9)), ErrorLength},
		{"odd capabilities", NewV3AVP(AVPPWCapabilities, []byte{0, 7, 0}), ErrorLength},
		{"Pseudowire Type of 3", NewV3AVP(AVPPWType, []byte{0, 0, 7}), ErrorLength},
		{"Tx Connect Speed of 4", NewV3AVP(AVPTxConnectSpeedV3, []byte{0, 0, 0, 1}), ErrorLength},
		{"Circuit Errors of 20", NewV3AVP(AVPCircuitErrors, make([]byte, 20)), ErrorLength},
		{"digest type 7", NewV3AVP(AVPMessageDigest, append([]byte{7}, make([]byte, 16)...)), ErrorValueOutOfRange},
		{"Result Code of 3", NewV3AVP(AVPResultCode, []byte{0, 1, 0}), ErrorLength},
	} {
		a := tc.a
		a.Mandatory = true
		m := base(a)
		var me *MalformedAVPError
		if err := m.ValidateV3(); !errors.As(err, &me) || me.AVP != a.Type || me.Code != tc.code || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s, M=1: %v", tc.name, err)
		}
		a.Mandatory = false
		m = base(a)
		dropped, err := m.CheckV3()
		if tc.a.Type == AVPLocalSessionID {
			// The first Local Session ID stays; the bad second one goes.
			if err != nil || len(dropped) != 1 {
				t.Errorf("%s, M=0: %v, dropped %v", tc.name, err, dropped)
			}
			continue
		}
		if err != nil || len(dropped) != 1 || len(m.AVPs) != 3 {
			t.Errorf("%s, M=0: %v, dropped %v, kept %d", tc.name, err, dropped, len(m.AVPs))
		}
	}
	// Section 7.1's own example: an Rx Connect Speed of 4 octets, M=0.
	m := base(AVP{Type: AVPRxConnectSpeedV3, Value: []byte{0, 1, 0, 0}})
	if dropped, err := m.CheckV3(); err != nil || len(dropped) != 1 {
		t.Errorf("short Rx Connect Speed: %v, %v", dropped, err)
	}
	if err := (&Message{Type: MsgType(99)}).ValidateV3(); err == nil {
		t.Error("unknown message type validated")
	}
}

// v3AVPCases are golden AVPs of RFC 3931 section 5.4, each built by its
// typed value and parsed back into it.
var v3AVPCases = []struct {
	name  string
	wire  []byte // the whole AVP
	avp   AVP
	value any                       // the typed value
	parse func([]byte) (any, error) // its Parse function
}{
	{
		name:  "Message Digest HMAC-SHA-1, 5.4.1",
		wire:  joinWire([]byte{0x80, 27, 0, 0, 0, 59, 1}, bytes.Repeat([]byte{0xab}, 20)),
		avp:   MessageDigest{Type: DigestHMACSHA1, Digest: bytes.Repeat([]byte{0xab}, 20)}.AVP(),
		value: MessageDigest{Type: DigestHMACSHA1, Digest: bytes.Repeat([]byte{0xab}, 20)},
		parse: func(b []byte) (any, error) { return ParseMessageDigest(b) },
	},
	{
		name:  "Pseudowire Capabilities List, 5.4.3",
		wire:  []byte{0x80, 10, 0, 0, 0, 62, 0x00, 0x05, 0x00, 0x04},
		avp:   PWCapabilities{PWEthernet, PWEthernetVLAN}.AVP(),
		value: PWCapabilities{PWEthernet, PWEthernetVLAN},
		parse: func(b []byte) (any, error) { return ParsePWCapabilities(b) },
	},
	{
		name:  "Pseudowire Type Ethernet VLAN, 5.4.4 and RFC 4719",
		wire:  []byte{0x80, 8, 0, 0, 0, 68, 0x00, 0x04},
		avp:   PWEthernetVLAN.AVP(),
		value: PWEthernetVLAN,
		parse: func(b []byte) (any, error) { return ParsePWType(b) },
	},
	{
		name:  "Assigned Cookie of 8, 5.4.4",
		wire:  []byte{0x80, 14, 0, 0, 0, 65, 1, 2, 3, 4, 5, 6, 7, 8},
		avp:   Cookie{Len: 8, Value: 0x0102030405060708}.AVP(),
		value: Cookie{Len: 8, Value: 0x0102030405060708},
		parse: func(b []byte) (any, error) { return ParseCookie(b) },
	},
	{
		name:  "Assigned Cookie of 4, 5.4.4",
		wire:  []byte{0x80, 10, 0, 0, 0, 65, 0, 0, 0, 1},
		avp:   Cookie{Len: 4, Value: 1}.AVP(),
		value: Cookie{Len: 4, Value: 1},
		parse: func(b []byte) (any, error) { return ParseCookie(b) },
	},
	{
		name:  "Assigned Cookie, none, 5.4.4",
		wire:  []byte{0x80, 6, 0, 0, 0, 65},
		avp:   Cookie{}.AVP(),
		value: Cookie{},
		parse: func(b []byte) (any, error) { return ParseCookie(b) },
	},
	{
		name:  "L2-Specific Sublayer Default, 5.4.4",
		wire:  []byte{0x80, 8, 0, 0, 0, 69, 0, 1},
		avp:   SublayerDefault.AVP(),
		value: SublayerDefault,
		parse: func(b []byte) (any, error) { return ParseSublayerType(b) },
	},
	{
		name:  "Data Sequencing Non-IP, 5.4.4",
		wire:  []byte{0x80, 8, 0, 0, 0, 70, 0, 1},
		avp:   SequenceNonIP.AVP(),
		value: SequenceNonIP,
		parse: func(b []byte) (any, error) { return ParseDataSequencing(b) },
	},
	{
		name:  "Circuit Status New, inactive, 5.4.5",
		wire:  []byte{0x80, 8, 0, 0, 0, 71, 0, 2},
		avp:   CircuitStatus{New: true}.AVP(),
		value: CircuitStatus{New: true},
		parse: func(b []byte) (any, error) { return ParseCircuitStatus(b) },
	},
	{
		name:  "Circuit Errors, 5.4.5 (Length 32)",
		wire:  joinWire([]byte{0x00, 32, 0, 0, 0, 34, 0, 0}, []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6}),
		avp:   CircuitErrors{1, 2, 3, 4, 5, 6}.AVP(),
		value: CircuitErrors{1, 2, 3, 4, 5, 6},
		parse: func(b []byte) (any, error) { return ParseCircuitErrors(b) },
	},
	{
		name:  "Router ID, 5.4.3",
		wire:  []byte{0x80, 10, 0, 0, 0, 60, 192, 0, 2, 1},
		avp:   NewV3AVPUint32(AVPRouterID, 0xc0000201),
		value: uint32(0xc0000201),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint32() },
	},
	{
		name:  "Assigned Control Connection ID, 5.4.3",
		wire:  []byte{0x80, 10, 0, 0, 0, 61, 0xde, 0xad, 0xbe, 0xef},
		avp:   NewV3AVPUint32(AVPAssignedConnID, 0xdeadbeef),
		value: uint32(0xdeadbeef),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint32() },
	},
	{
		name:  "Local Session ID, 5.4.4",
		wire:  []byte{0x80, 10, 0, 0, 0, 63, 0, 0, 0, 42},
		avp:   NewV3AVPUint32(AVPLocalSessionID, 42),
		value: uint32(42),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint32() },
	},
	{
		name:  "Remote Session ID, 5.4.4",
		wire:  []byte{0x80, 10, 0, 0, 0, 64, 0, 0, 0, 43},
		avp:   NewV3AVPUint32(AVPRemoteSessionID, 43),
		value: uint32(43),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint32() },
	},
	{
		name:  "Remote End ID, 5.4.4",
		wire:  []byte{0x80, 9, 0, 0, 0, 66, 'v', '1', '0'},
		avp:   NewV3AVPString(AVPRemoteEndID, "v10"),
		value: "v10",
		parse: func(b []byte) (any, error) { return string(b), nil },
	},
	{
		name:  "Preferred Language, 5.4.3 (M=0)",
		wire:  []byte{0x00, 11, 0, 0, 0, 72, 'd', 'e', '-', 'C', 'H'},
		avp:   NewV3AVPString(AVPPreferredLanguage, "de-CH"),
		value: "de-CH",
		parse: func(b []byte) (any, error) { return string(b), nil },
	},
	{
		name:  "Control Message Authentication Nonce, 5.4.1",
		wire:  []byte{0x80, 10, 0, 0, 0, 73, 9, 8, 7, 6},
		avp:   NewV3AVP(AVPNonce, []byte{9, 8, 7, 6}),
		value: []byte{9, 8, 7, 6},
		parse: func(b []byte) (any, error) { return b, nil },
	},
	{
		name:  "Tx Connect Speed, 5.4.4 (M=0)",
		wire:  []byte{0x00, 14, 0, 0, 0, 74, 0, 0, 0, 2, 0x54, 0x0b, 0xe4, 0x00},
		avp:   NewV3AVPUint64(AVPTxConnectSpeedV3, 10000000000),
		value: uint64(10000000000),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint64() },
	},
	{
		name:  "Rx Connect Speed, 5.4.4 (M=0)",
		wire:  []byte{0x00, 14, 0, 0, 0, 75, 0, 0, 0, 0, 0, 0, 0, 1},
		avp:   NewV3AVPUint64(AVPRxConnectSpeedV3, 1),
		value: uint64(1),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint64() },
	},
	{
		name:  "Serial Number, 5.4.4 (M=0 in v3)",
		wire:  []byte{0x00, 10, 0, 0, 0, 15, 0, 0, 1, 0},
		avp:   NewV3AVPUint32(AVPSerialNumber, 256),
		value: uint32(256),
		parse: func(b []byte) (any, error) { return AVP{Value: b}.Uint32() },
	},
}

// TestV3AVPValues checks every new AVP both ways: typed value → AVP →
// bytes, and bytes → AVP → typed value.
func TestV3AVPValues(t *testing.T) {
	for _, tc := range v3AVPCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendV3AVPs(nil, []AVP{tc.avp}, AppendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wire, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			avps, err := ParseV3AVPs(tc.wire, nil)
			if err != nil || len(avps) != 1 {
				t.Fatalf("ParseV3AVPs: %v, %v", avps, err)
			}
			if diff := cmp.Diff(tc.avp, avps[0], cmpEmpty); diff != "" {
				t.Errorf("ParseV3AVPs (-want +got):\n%s", diff)
			}
			got, err := tc.parse(avps[0].Value)
			if err != nil {
				t.Fatalf("parse value: %v", err)
			}
			if diff := cmp.Diff(tc.value, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if err := checkV3Single(avps[0]); err != nil {
				t.Errorf("value check: %v", err)
			}
		})
	}
	// The 18-octet layout of section 5.4.5's figure is accepted too.
	v := joinWire([]byte{0, 0}, []byte{0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6})
	if c, err := ParseCircuitErrors(v); err != nil || c != (CircuitErrors{HardwareOverruns: 3, BufferOverruns: 4, Timeout: 5, Alignment: 6}) {
		t.Errorf("18-octet Circuit Errors: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"digest of 5", func() error { _, err := ParseMessageDigest([]byte{0, 1, 2, 3, 4}); return err }()},
		{"empty digest", func() error { _, err := ParseMessageDigest(nil); return err }()},
		{"empty capabilities", func() error { _, err := ParsePWCapabilities(nil); return err }()},
		{"cookie of 6", func() error { _, err := ParseCookie(make([]byte, 6)); return err }()},
		{"Circuit Status of 1", func() error { _, err := ParseCircuitStatus([]byte{1}); return err }()},
		{"Circuit Errors of 17", func() error { _, err := ParseCircuitErrors(make([]byte, 17)); return err }()},
		{"append empty capabilities", func() error { _, err := PWCapabilities{}.Append(nil); return err }()},
		{"append cookie 5 octets", func() error { _, err := Cookie{Len: 5}.Append(nil); return err }()},
		{"append MD5 digest of 3", func() error { _, err := MessageDigest{Digest: []byte{1, 2, 3}}.Append(nil); return err }()},
	} {
		if !errors.Is(tc.err, ErrShort) && !errors.Is(tc.err, ErrMalformed) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	// Circuit Status ignores reserved bits on receipt (section 5.4.5).
	if c, err := ParseCircuitStatus([]byte{0xff, 0xfd}); err != nil || c != (CircuitStatus{Active: true}) {
		t.Errorf("Circuit Status with reserved bits: %+v, %v", c, err)
	}
	if !(PWCapabilities{PWPPP, PWEthernet}).Has(PWEthernet) || (PWCapabilities{PWPPP}).Has(PWEthernetVLAN) {
		t.Error("PWCapabilities.Has")
	}
}

func checkV3Single(a AVP) error {
	_, err := checkValueV3(a)
	return err
}

func TestV3Strings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{MsgACK.String(), "ACK"},
		{AVPLocalSessionID.String(), "LocalSessionID"},
		{AVPNonce.String(), "ControlMessageAuthenticationNonce"},
		{AVPFailoverSessionState.String(), "FailoverSessionState"},
		{AVPType(67).String(), "AVPType(67)"},
		{PWPPP.String(), "PPP"},
		{PWEthernetVLAN.String(), "EthernetVLAN"},
		{PWType(0x11).String(), "PWType(0x11)"},
		{DigestHMACSHA1.String(), "HMAC-SHA-1"},
		{SublayerDefault.String(), "Default"},
		{SequenceAll.String(), "All"},
		{CircuitStatus{Active: true, New: true}.String(), "Active|New"},
		{CDNResult(14).String(), "UnsupportedPWType"},
		{ErrorTryAnotherDirected.String(), "TryAnotherDirected"},
		{EncapIP.String(), "ip"},
		{(&DigestError{Msg: MsgICRQ, Fault: DigestMismatch}).Error(), "l2tp: ICRQ: Message Digest does not match"},
		{(&UnknownMessageError{Type: 3, VendorID: 9, Mandatory: true}).Error(), "l2tp: unknown mandatory message type 3 of vendor 9"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// The v2 codec still treats the v3 numbers as unknown.
	if AVPLocalSessionID.Known() || MsgACK.Known() || !AVPLocalSessionID.KnownV3() || !MsgACK.KnownV3() {
		t.Error("Known/KnownV3 mixed up")
	}
}

// TestV3GoldenTruncated cuts every golden message at every length: a
// sentinel error, never a panic.
func TestV3GoldenTruncated(t *testing.T) {
	for _, tc := range v3GoldenCases {
		full := v3GoldenBytes[tc.name]
		for n := range len(full) {
			if _, _, err := ParseV3Control(full[:n], EncapUDP, v3GoldenSecret); !errors.Is(err, ErrShort) {
				t.Errorf("%s cut at %d: %v, want ErrShort", tc.name, n, err)
			}
			if err := VerifyMessage(full[:n], nil, nil); err == nil {
				t.Errorf("%s cut at %d verified", tc.name, n)
			}
			if n < V3ControlHeaderLen {
				continue
			}
			b := append([]byte{}, full[:n]...)
			binary.BigEndian.PutUint16(b[2:], uint16(n))
			if _, _, err := ParseV3Control(b, EncapUDP, v3GoldenSecret); err != nil && !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s cut at %d with Length %d: %v", tc.name, n, n, err)
			}
			_ = VerifyMessage(b, v3GoldenNonceA, v3GoldenNonceB, NewAuthKey(v3GoldenSecret))
		}
	}
}

func FuzzParseV3AVPs(f *testing.F) {
	for _, tc := range v3AVPCases {
		f.Add(tc.wire)
	}
	for _, tc := range v3GoldenCases {
		if tc.m != nil {
			f.Add(v3GoldenBytes[tc.name][V3ControlHeaderLen+8:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		avps, err := ParseV3AVPs(b, v3GoldenSecret)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoRandomVector) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, a := range avps {
			if a.VendorID == 0 && a.Type.KnownV3() {
				_ = checkV3Single(a) // may refuse, never panic
			}
		}
		out, err := AppendV3AVPs(nil, avps, AppendOptions{Secret: v3GoldenSecret, Rand: bytes.NewReader(make([]byte, 64))})
		if err != nil {
			t.Fatalf("AppendV3AVPs(%+v): %v", avps, err)
		}
		avps2, err := ParseV3AVPs(out, v3GoldenSecret)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(avps, avps2, cmpEmpty); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseV3Control parses whole v3 messages (over UDP or IP), checks the
// digest and validates them, and requires the round trip parse → append →
// parse to give the same message; re-signed, the message verifies.
func FuzzParseV3Control(f *testing.F) {
	for _, o := range v3GoldenOrder {
		f.Add(v3GoldenBytes[o.name], false)
		f.Add(append([]byte{0, 0, 0, 0}, v3GoldenBytes[o.name]...), true)
	}
	key := NewAuthKey(v3GoldenSecret)
	f.Fuzz(func(t *testing.T, b []byte, overIP bool) {
		e := EncapUDP
		if overIP {
			e = EncapIP
		}
		if len(b) >= e.ControlOffset() {
			_ = VerifyMessage(b[e.ControlOffset():], v3GoldenNonceA, v3GoldenNonceB, key)
		}
		h, m, err := ParseV3Control(b, e, v3GoldenSecret)
		var um *UnknownMandatoryAVPError
		var ut *UnknownMessageError
		switch {
		case err == nil, errors.As(err, &um):
		case errors.As(err, &ut):
			return
		case errors.Is(err, ErrShort), errors.Is(err, ErrMalformed), errors.Is(err, ErrNoRandomVector):
			return
		default:
			t.Fatalf("unexpected error kind: %v", err)
		}
		if m != nil {
			c := *m
			_ = c.ValidateV3()
		}
		out, err := AppendV3Control(nil, e, h, m, AppendOptions{Secret: v3GoldenSecret, Rand: bytes.NewReader(make([]byte, 64))})
		if err != nil {
			t.Fatalf("AppendV3Control(%+v, %+v): %v", h, m, err)
		}
		h2, m2, err2 := ParseV3Control(out, e, v3GoldenSecret)
		var um2 *UnknownMandatoryAVPError
		if err2 != nil && (!errors.As(err2, &um2) || um == nil) {
			t.Fatalf("re-parse error %v, first parse %v", err2, um)
		}
		h.Length = h2.Length
		if h != h2 {
			t.Fatalf("header round trip: %+v, then %+v", h, h2)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("message round trip (-first +second):\n%s", diff)
		}
		// With a well-formed digest in second place, signing and
		// verifying agree.
		if err := SignMessage(out[e.ControlOffset():], v3GoldenNonceA, v3GoldenNonceB, key); err == nil {
			if err := VerifyMessage(out[e.ControlOffset():], v3GoldenNonceB, v3GoldenNonceA, key); err != nil {
				t.Fatalf("signed message does not verify: %v", err)
			}
		}
	})
}

func BenchmarkVerifyMessage(b *testing.B) {
	pkt := v3GoldenBytes["ICRQ"]
	key := NewAuthKey(v3GoldenSecret)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyMessage(pkt, v3GoldenNonceB, v3GoldenNonceA, key); err != nil {
			b.Fatal(err)
		}
	}
}

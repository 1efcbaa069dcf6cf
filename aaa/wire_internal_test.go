package aaa

import (
	"testing"

	"layeh.com/radius"
)

// FuzzCheckMA asserts that a Message-Authenticator written by encode is
// found and verifies for every packet code and attribute list, and that
// any change to the packet breaks it (RFC 3579 section 3.2).
func FuzzCheckMA(f *testing.F) {
	f.Add(uint8(1), []byte{1, 7, 'a', 'l', 'i', 'c', 'e'}, uint16(3))
	f.Add(uint8(4), []byte{40, 6, 0, 0, 0, 1}, uint16(0))
	f.Add(uint8(43), []byte{}, uint16(25))
	f.Fuzz(func(t *testing.T, codeSel uint8, attrBytes []byte, flip uint16) {
		codes := []radius.Code{radius.CodeAccessRequest, radius.CodeAccountingRequest, radius.CodeCoARequest,
			radius.CodeDisconnectRequest, radius.CodeAccessAccept, radius.CodeCoANAK}
		code := codes[int(codeSel)%len(codes)]
		attrs, err := radius.ParseAttributes(attrBytes)
		if err != nil {
			return
		}
		attrs.Del(attrMessageAuthenticator)
		auth := [16]byte{1, 2, 3}
		p := &radius.Packet{Code: code, Identifier: 9, Authenticator: auth, Secret: []byte("s"), Attributes: attrs}
		b, err := encode(p, true)
		if err != nil {
			return // too long
		}
		var with [16]byte // the authenticator the HMAC was computed over
		switch code {
		case radius.CodeAccessRequest, radius.CodeAccessAccept, radius.CodeCoANAK:
			with = auth
		}
		if code == radius.CodeAccessRequest {
			with = [16]byte(b[4:20])
		}
		present, ok, err := checkMA(b, with, p.Secret)
		if err != nil || !present || !ok {
			t.Fatalf("%v: present %v ok %v err %v", code, present, ok, err)
		}
		i := int(flip) % len(b)
		if i >= 2 && i < 20 {
			// A changed length makes the packet malformed; the
			// authenticator field is replaced by the caller's value.
			return
		}
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		if present, ok, err := checkMA(c, with, p.Secret); err == nil && present && ok {
			t.Fatalf("%v: octet %d flipped and the Message-Authenticator still verifies", code, i)
		}
	})
}

package l2tp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"hash"
	"strconv"
)

// This file holds the control message authentication of L2TPv3, RFC 3931
// sections 4.3 and 5.4.1: the keys derived from the shared secret, and the
// Message Digest AVP computed over the whole control message.

// ErrDigest is wrapped by every *DigestError: a control message whose
// Message Digest is missing, misplaced, malformed or wrong. Section 5.4.1:
// such a message MUST be dropped before anything in it is used.
var ErrDigest = errors.New("l2tp: message digest check failed")

// DigestFault says what is wrong with the Message Digest of a message.
type DigestFault uint8

const (
	DigestMissing   DigestFault = iota + 1 // no Message Digest AVP (or a ZLB)
	DigestMisplaced                        // not immediately after the Message Type AVP
	DigestMalformed                        // unknown type, wrong length, hidden
	DigestMismatch                         // the digest does not match the message
)

var digestFaultNames = [...]string{
	DigestMissing:   "missing",
	DigestMisplaced: "not right after the Message Type AVP",
	DigestMalformed: "malformed",
	DigestMismatch:  "does not match",
}

func (f DigestFault) String() string {
	if int(f) < len(digestFaultNames) && digestFaultNames[f] != "" {
		return digestFaultNames[f]
	}
	return "DigestFault(" + strconv.Itoa(int(f)) + ")"
}

// DigestError reports a control message that fails the Message Digest check
// of RFC 3931 section 5.4.1. Msg is its type (0 when it has none). There is
// no Result Code to send: the message is dropped (section 4.3: it may have
// been corrupted in transit), and the reliable transport does not
// acknowledge it. It wraps ErrDigest.
type DigestError struct {
	Msg   MsgType
	Fault DigestFault
}

func (e *DigestError) Error() string {
	return "l2tp: " + e.Msg.String() + ": Message Digest " + e.Fault.String()
}

func (e *DigestError) Unwrap() error { return ErrDigest }

// HidingKey is the shared key of RFC 3931 section 5.3 that hides and
// reveals AVP values in L2TPv3 (where L2TPv2 uses the secret itself):
// HMAC-MD5 keyed with the shared secret over the single octet 1.
func HidingKey(secret []byte) [md5.Size]byte {
	return deriveKey(secret, 1)
}

// AuthKey is the control message authentication key of RFC 3931 section
// 5.4.1: HMAC-MD5 keyed with the shared secret over the single octet 2.
// Without authentication (section 4.3), the Message Digest may still be
// sent as an integrity check with the key of an empty secret and no nonces.
type AuthKey [md5.Size]byte

// NewAuthKey derives the authentication key of a shared secret.
func NewAuthKey(secret []byte) AuthKey {
	return AuthKey(deriveKey(secret, 2))
}

func deriveKey(secret []byte, octet byte) [md5.Size]byte {
	m := hmac.New(md5.New, secret)
	m.Write([]byte{octet})
	var k [md5.Size]byte
	m.Sum(k[:0])
	return k
}

// digestAVP is one Message Digest AVP found in a message: the offsets of
// its digest (after the Digest Type octet) in the message.
type digestAVP struct {
	typ        DigestType
	start, end int
}

// findDigests locates the Message Digest AVPs of msg, a whole L2TPv3
// control message from the first octet of its header: one right after the
// Message Type AVP and maybe a second right after it (section 5.4.1). It
// returns them, the message type and the end of the message (its Length).
func findDigests(msg []byte) (d [2]digestAVP, n int, t MsgType, end int, err error) {
	h, payload, err := ParseV3ControlHeader(msg)
	if err != nil {
		return d, 0, 0, 0, err
	}
	end = int(h.Length)
	if len(payload) == 0 {
		return d, 0, 0, end, &DigestError{Fault: DigestMissing} // a ZLB, section 6.15
	}
	off := V3ControlHeaderLen
	next := func() (w uint16, vendor uint16, typ AVPType, l int, ok bool) {
		if end-off < avpHeaderLen {
			return 0, 0, 0, 0, false
		}
		w = binary.BigEndian.Uint16(msg[off:])
		l = int(w & avpLenMask)
		if l < avpHeaderLen || off+l > end {
			return 0, 0, 0, 0, false
		}
		return w, binary.BigEndian.Uint16(msg[off+2:]), AVPType(binary.BigEndian.Uint16(msg[off+4:])), l, true
	}
	_, vendor, typ, l, ok := next()
	if !ok || typ != AVPMessageType {
		return d, 0, 0, end, &DigestError{Fault: DigestMissing}
	}
	if vendor == 0 && l == avpHeaderLen+2 {
		t = MsgType(binary.BigEndian.Uint16(msg[off+avpHeaderLen:]))
	}
	off += l
	for n < len(d) {
		w, vendor, typ, l, ok := next()
		if !ok || vendor != 0 || typ != AVPMessageDigest {
			break
		}
		if w&avpFlagH != 0 || l < avpHeaderLen+1 {
			return d, n, t, end, &DigestError{Msg: t, Fault: DigestMalformed}
		}
		dt := DigestType(msg[off+avpHeaderLen])
		if dt.Size() == 0 || l != avpHeaderLen+1+dt.Size() {
			return d, n, t, end, &DigestError{Msg: t, Fault: DigestMalformed}
		}
		d[n] = digestAVP{typ: dt, start: off + avpHeaderLen + 1, end: off + l}
		n++
		off += l
	}
	if n > 0 {
		return d, n, t, end, nil
	}
	// None in second place: misplaced if there is one further on.
	for {
		_, vendor, typ, l, ok := next()
		if !ok {
			return d, 0, t, end, &DigestError{Msg: t, Fault: DigestMissing}
		}
		if vendor == 0 && typ == AVPMessageDigest {
			return d, 0, t, end, &DigestError{Msg: t, Fault: DigestMisplaced}
		}
		off += l
	}
}

// computeDigest is the Message Digest of section 5.4.1 of type dt: the HMAC
// keyed with key over first, second and the message msg[:end] with every
// digest of ds zeroed (their Digest Type octets kept).
func computeDigest(dt DigestType, key AuthKey, first, second, msg []byte, ds []digestAVP, end int) []byte {
	var newHash func() hash.Hash = md5.New
	if dt == DigestHMACSHA1 {
		newHash = sha1.New
	}
	m := hmac.New(newHash, key[:])
	m.Write(first)
	m.Write(second)
	var zeros [sha1.Size]byte
	off := 0
	for _, d := range ds {
		m.Write(msg[off:d.start])
		m.Write(zeros[:d.end-d.start])
		off = d.end
	}
	m.Write(msg[off:end])
	return m.Sum(nil)
}

// SignMessage fills in the Message Digest AVPs of msg, a whole L2TPv3
// control message as AppendV3Control builds it (from the first octet of
// the control header: after the zero Session ID over IP, after the UDP
// header over UDP), RFC 3931 section 5.4.1. The message must carry a
// Message Digest AVP right after its Message Type AVP (MessageDigest{Type:
// t}.AVP() is the placeholder), and may carry a second right after the
// first, for a change of secret; keys gives the key of each, in order.
//
// Each digest is HMAC-MD5 or HMAC-SHA-1, keyed with its AuthKey, over
// localNonce (the nonce this side sent), remoteNonce (the peer's) and the
// message with the digests zeroed; an SCCRQ, which opens the connection
// with only the sender's nonce inside it, leaves both nonces out. Errors are
// a *DigestError (no digest AVP in second place, a malformed one, not one
// key for each) or the header's.
func SignMessage(msg []byte, localNonce, remoteNonce []byte, keys ...AuthKey) error {
	ds, n, t, end, err := findDigests(msg)
	if err != nil {
		return err
	}
	if len(keys) != n {
		return &DigestError{Msg: t, Fault: DigestMissing}
	}
	if t == MsgSCCRQ {
		localNonce, remoteNonce = nil, nil
	}
	var sums [2][]byte
	for i := range n {
		sums[i] = computeDigest(ds[i].typ, keys[i], localNonce, remoteNonce, msg, ds[:n], end)
	}
	for i := range n {
		copy(msg[ds[i].start:ds[i].end], sums[i])
	}
	return nil
}

// VerifyMessage checks the Message Digest of msg, a whole L2TPv3 control
// message received (laid out as for SignMessage), RFC 3931 section 5.4.1:
// the digest is computed as the sender did, with the nonces in the sender's
// order (remoteNonce, the peer's, first; none for an SCCRQ), and compared in
// constant time. The message is accepted when a digest AVP (there may be
// two) matches under one of keys (two when a secret is being changed).
// Errors are a *DigestError (missing, not right after the Message Type,
// malformed, no match) or the header's; either way section 5.4.1 says to
// drop the message.
func VerifyMessage(msg []byte, localNonce, remoteNonce []byte, keys ...AuthKey) error {
	ds, n, t, end, err := findDigests(msg)
	if err != nil {
		return err
	}
	if t == MsgSCCRQ {
		localNonce, remoteNonce = nil, nil
	}
	for i := range n {
		for _, k := range keys {
			want := computeDigest(ds[i].typ, k, remoteNonce, localNonce, msg, ds[:n], end)
			if hmac.Equal(want, msg[ds[i].start:ds[i].end]) {
				return nil
			}
		}
	}
	return &DigestError{Msg: t, Fault: DigestMismatch}
}

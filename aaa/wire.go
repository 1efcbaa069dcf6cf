package aaa

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"

	"layeh.com/radius"
)

// Sentinel errors wrapped by the errors of this package.
var (
	// ErrMalformed marks a RADIUS packet or attribute that does not parse.
	ErrMalformed = errors.New("malformed")
	// ErrTimeout is returned when no server answered in time.
	ErrTimeout = errors.New("no answer from any RADIUS server")
	// ErrNoServer is returned when a request has no server to go to.
	ErrNoServer = errors.New("no RADIUS server configured")
	// ErrBusy is returned when the bound on requests in flight is reached
	// and the context ends before a slot frees up.
	ErrBusy = errors.New("too many RADIUS requests in flight")
)

// Attribute types used by this package (RFC 2865 section 5, RFC 2866
// section 5, RFC 2868 section 3, RFC 2869 section 5, RFC 3576 section 3).
const (
	attrUserName             radius.Type = 1
	attrUserPassword         radius.Type = 2
	attrCHAPPassword         radius.Type = 3
	attrNASIPAddress         radius.Type = 4
	attrNASPort              radius.Type = 5
	attrServiceType          radius.Type = 6
	attrFramedProtocol       radius.Type = 7
	attrFramedIPAddress      radius.Type = 8
	attrFramedIPNetmask      radius.Type = 9
	attrFilterID             radius.Type = 11
	attrReplyMessage         radius.Type = 18
	attrFramedRoute          radius.Type = 22
	attrState                radius.Type = 24
	attrClass                radius.Type = 25
	attrVendorSpecific       radius.Type = 26
	attrSessionTimeout       radius.Type = 27
	attrIdleTimeout          radius.Type = 28
	attrCalledStationID      radius.Type = 30
	attrCallingStationID     radius.Type = 31
	attrNASIdentifier        radius.Type = 32
	attrProxyState           radius.Type = 33
	attrAcctStatusType       radius.Type = 40
	attrAcctDelayTime        radius.Type = 41
	attrAcctInputOctets      radius.Type = 42
	attrAcctOutputOctets     radius.Type = 43
	attrAcctSessionID        radius.Type = 44
	attrAcctAuthentic        radius.Type = 45
	attrAcctSessionTime      radius.Type = 46
	attrAcctInputPackets     radius.Type = 47
	attrAcctOutputPackets    radius.Type = 48
	attrAcctTerminateCause   radius.Type = 49
	attrAcctMultiSessionID   radius.Type = 50
	attrAcctInputGigawords   radius.Type = 52
	attrAcctOutputGigawords  radius.Type = 53
	attrEventTimestamp       radius.Type = 55
	attrCHAPChallenge        radius.Type = 60
	attrNASPortType          radius.Type = 61
	attrTunnelType           radius.Type = 64
	attrTunnelMediumType     radius.Type = 65
	attrTunnelClientEndpoint radius.Type = 66
	attrTunnelServerEndpoint radius.Type = 67
	attrAcctTunnelConnection radius.Type = 68 // RFC 2867 section 4.1
	attrTunnelPassword       radius.Type = 69
	attrMessageAuthenticator radius.Type = 80
	attrTunnelPrivateGroupID radius.Type = 81
	attrTunnelAssignmentID   radius.Type = 82
	attrTunnelPreference     radius.Type = 83
	attrAcctInterimInterval  radius.Type = 85
	attrNASPortID            radius.Type = 87
	attrFramedPool           radius.Type = 88
	attrTunnelClientAuthID   radius.Type = 90
	attrTunnelServerAuthID   radius.Type = 91
	attrErrorCause           radius.Type = 101

	// IPv6 (RFC 3162 section 2, RFC 4818 section 3, RFC 6911 section 3).
	attrFramedInterfaceID       radius.Type = 96
	attrFramedIPv6Prefix        radius.Type = 97
	attrFramedIPv6Route         radius.Type = 99
	attrFramedIPv6Pool          radius.Type = 100
	attrDelegatedIPv6Prefix     radius.Type = 123
	attrFramedIPv6Address       radius.Type = 168
	attrDNSServerIPv6Address    radius.Type = 169
	attrDelegatedIPv6PrefixPool radius.Type = 171
	attrStatefulIPv6AddressPool radius.Type = 172
)

// Vendor attributes understood in replies.
const (
	vendorMicrosoft      = 311   // RFC 2548
	msPrimaryDNSServer   = 28    // RFC 2548 section 2.6.1
	msSecondaryDNSServer = 29    // RFC 2548 section 2.6.2
	vendorMikrotik       = 14988 // MikroTik dictionary
	mikrotikRateLimit    = 8     // "rx/tx" as seen by the router
	maLen                = 16
	headerLen            = 20
	maxPacketLen         = radius.MaxPacketLength
)

// encode marshals p and appends a Message-Authenticator (RFC 3579 section
// 3.2) as the last attribute when withMA is set, then fills the
// Authenticator field as the packet code asks:
//   - Access-Request, Status-Server: p.Authenticator as is (random);
//   - Accounting-Request (RFC 2866 section 3), CoA-Request and
//     Disconnect-Request (RFC 3576 section 2.3): MD5 over the packet with
//     16 zero octets in place of the authenticator; the HMAC is computed
//     with those zero octets too;
//   - every response: p.Authenticator must hold the Request Authenticator;
//     the HMAC is computed over it, then the Response Authenticator.
func encode(p *radius.Packet, withMA bool) ([]byte, error) {
	q := *p
	q.Attributes = append(radius.Attributes(nil), p.Attributes...)
	q.Attributes.Del(attrMessageAuthenticator)
	if withMA {
		q.Attributes.Add(attrMessageAuthenticator, make(radius.Attribute, maLen))
	}
	switch q.Code {
	case radius.CodeAccessRequest, radius.CodeStatusServer:
	case radius.CodeAccountingRequest, radius.CodeCoARequest, radius.CodeDisconnectRequest:
		q.Authenticator = [16]byte{}
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge,
		radius.CodeAccountingResponse, radius.CodeCoAACK, radius.CodeCoANAK,
		radius.CodeDisconnectACK, radius.CodeDisconnectNAK:
	default:
		return nil, fmt.Errorf("aaa: encode: unknown code %v", q.Code)
	}
	b, err := q.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("aaa: encode %v: %w", q.Code, err)
	}
	if withMA {
		m := hmac.New(md5.New, q.Secret)
		m.Write(b)
		m.Sum(b[len(b)-maLen : len(b)-maLen])
	}
	switch q.Code {
	case radius.CodeAccessRequest, radius.CodeStatusServer:
		return b, nil
	}
	h := md5.New()
	h.Write(b)
	h.Write(q.Secret)
	h.Sum(b[4:4])
	return b, nil
}

// findMA returns the offset of the Message-Authenticator value in the
// packet b, or -1. b must be a packet whose attributes parsed.
func findMA(b []byte) (int, error) {
	if len(b) < headerLen {
		return -1, fmt.Errorf("aaa: %w: packet of %d bytes", ErrMalformed, len(b))
	}
	off := -1
	for i := headerLen; i < len(b); {
		if i+2 > len(b) {
			return -1, fmt.Errorf("aaa: %w: attribute header cut at %d", ErrMalformed, i)
		}
		l := int(b[i+1])
		if l < 2 || i+l > len(b) {
			return -1, fmt.Errorf("aaa: %w: attribute length %d at %d", ErrMalformed, l, i)
		}
		if radius.Type(b[i]) == attrMessageAuthenticator {
			if l != 2+maLen {
				return -1, fmt.Errorf("aaa: %w: Message-Authenticator of %d bytes", ErrMalformed, l)
			}
			if off >= 0 {
				return -1, fmt.Errorf("aaa: %w: two Message-Authenticators", ErrMalformed)
			}
			off = i + 2
		}
		i += l
	}
	return off, nil
}

// checkMA verifies the Message-Authenticator of b (RFC 3579 section 3.2),
// computed with auth in the Authenticator field: the Request
// Authenticator for a response, zeros for an Accounting, CoA or
// Disconnect request, the packet's own for an Access-Request.
// present is false when b carries none.
func checkMA(b []byte, auth [16]byte, secret []byte) (present, ok bool, err error) {
	off, err := findMA(b)
	if err != nil || off < 0 {
		return false, false, err
	}
	c := append([]byte(nil), b...)
	copy(c[4:20], auth[:])
	clear(c[off : off+maLen])
	m := hmac.New(md5.New, secret)
	m.Write(c)
	return true, hmac.Equal(m.Sum(nil), b[off:off+maLen]), nil
}

// packetLen checks the RADIUS header of b (RFC 2865 section 3) and returns
// the packet length; octets past it are padding to ignore.
func packetLen(b []byte) (int, error) {
	if len(b) < headerLen {
		return 0, fmt.Errorf("aaa: %w: packet of %d bytes", ErrMalformed, len(b))
	}
	n := int(b[2])<<8 | int(b[3])
	if n < headerLen || n > maxPacketLen || n > len(b) {
		return 0, fmt.Errorf("aaa: %w: length field %d for %d bytes", ErrMalformed, n, len(b))
	}
	return n, nil
}

func randomBytes(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("aaa: crypto/rand: " + err.Error())
	}
}

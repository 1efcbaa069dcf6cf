package aaa

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"layeh.com/radius"
)

// maxTag is the highest valid tag of RFC 2868 section 3: tags run 0x01 to
// 0x1F; a first octet above it in a string attribute is data, not a tag.
const maxTag = 0x1f

// TunnelInfo describes the L2TP tunnel a session arrived on, sent in the
// LNS's Access-Request and accounting (RFC 2868 section 3, RFC 2867).
// A zero Type or Medium is sent as L2TP over IPv4.
type TunnelInfo struct {
	Type           TunnelType
	Medium         TunnelMedium
	ClientEndpoint string // the LAC's address, in dotted form
	ServerEndpoint string // the LNS's address
	ClientAuthID   string // the LAC's Host Name (RFC 2661 section 4.4.3)
	ServerAuthID   string // the LNS's Host Name
	AssignmentID   string
	// Connection is Acct-Tunnel-Connection (RFC 2867 section 4.1), the
	// tunnel session's identifier in accounting: its encoding is the
	// implementation's; bras writes our Tunnel (or Control Connection)
	// ID and Session ID, "tunnel/session" in decimal.
	Connection string
}

// TunnelChoice is one tunnel a RADIUS server offers to an LAC: the tagged
// Tunnel-* attributes of RFC 2868 that share a tag.
type TunnelChoice struct {
	Tag            uint8
	Type           TunnelType
	Medium         TunnelMedium
	ServerEndpoint string
	ClientEndpoint string
	Password       []byte // Tunnel-Password decrypted (RFC 2868 section 3.5)
	AssignmentID   string
	// Preference is Tunnel-Preference (RFC 2868 section 3.8): lower is
	// preferred. HasPreference is false when the server sent none.
	Preference     uint32
	HasPreference  bool
	ClientAuthID   string
	ServerAuthID   string
	PrivateGroupID string
}

// AppendAttributes adds the attributes of t, untagged, to a.
func (t TunnelInfo) AppendAttributes(a radius.Attributes) radius.Attributes {
	typ, med := t.Type, t.Medium
	if typ == 0 {
		typ = TunnelL2TP
	}
	if med == 0 {
		med = MediumIPv4
	}
	a = append(a, &radius.AVP{Type: attrTunnelType, Attribute: taggedInt(0, uint32(typ))})
	a = append(a, &radius.AVP{Type: attrTunnelMediumType, Attribute: taggedInt(0, uint32(med))})
	for _, s := range []struct {
		t radius.Type
		v string
	}{
		{attrTunnelClientEndpoint, t.ClientEndpoint},
		{attrTunnelServerEndpoint, t.ServerEndpoint},
		{attrTunnelAssignmentID, t.AssignmentID},
		{attrTunnelClientAuthID, t.ClientAuthID},
		{attrTunnelServerAuthID, t.ServerAuthID},
	} {
		if v := taggedString(0, s.v); v != nil {
			a = append(a, &radius.AVP{Type: s.t, Attribute: v})
		}
	}
	if t.Connection != "" { // untagged (RFC 2867 section 4.1)
		a = append(a, &radius.AVP{Type: attrAcctTunnelConnection, Attribute: radius.Attribute(t.Connection)})
	}
	return a
}

// taggedInt encodes an integer Tunnel attribute: one tag octet and a
// 24-bit value (RFC 2868 section 3.1).
func taggedInt(tag uint8, v uint32) radius.Attribute {
	b := make(radius.Attribute, 4)
	binary.BigEndian.PutUint32(b, v&0xffffff)
	b[0] = tag
	return b
}

// taggedString encodes a string Tunnel attribute. The tag octet is
// optional (RFC 2868 section 3.3); tag 0 is written only when the value
// would otherwise start with an octet read as a tag.
func taggedString(tag uint8, s string) radius.Attribute {
	if s == "" {
		return nil
	}
	if tag == 0 && s[0] > maxTag {
		return radius.Attribute(s)
	}
	b := make(radius.Attribute, 0, 1+len(s))
	b = append(b, tag)
	return append(b, s...)
}

func splitTaggedString(v radius.Attribute) (uint8, string) {
	if len(v) > 0 && v[0] <= maxTag {
		return v[0], string(v[1:])
	}
	return 0, string(v)
}

// ParseTunnels groups the tagged Tunnel-* attributes of an Access-Accept
// by tag into tunnel choices sorted by Tunnel-Preference (RFC 2868
// section 3.8; choices without one come last, then by tag). The
// Tunnel-Password is decrypted with the shared secret and the Request
// Authenticator of the Access-Request (RFC 2868 section 3.5). A reply
// without Tunnel-Type yields no choice; a group whose Tunnel-Type is not
// L2TP is still returned for the caller to skip.
func ParseTunnels(attrs radius.Attributes, secret []byte, requestAuth [16]byte) ([]TunnelChoice, error) {
	var byTag [maxTag + 1]*TunnelChoice
	get := func(tag uint8) *TunnelChoice {
		if byTag[tag] == nil {
			byTag[tag] = &TunnelChoice{Tag: tag}
		}
		return byTag[tag]
	}
	seenType := false
	for _, avp := range attrs {
		v := avp.Attribute
		switch avp.Type {
		case attrTunnelType, attrTunnelMediumType, attrTunnelPreference:
			if len(v) != 4 {
				return nil, fmt.Errorf("aaa: %w: %v of %d bytes", ErrMalformed, attrName(avp.Type), len(v))
			}
			tag := v[0]
			if tag > maxTag {
				return nil, fmt.Errorf("aaa: %w: %v tag %d", ErrMalformed, attrName(avp.Type), tag)
			}
			n := binary.BigEndian.Uint32(v) & 0xffffff
			c := get(tag)
			switch avp.Type {
			case attrTunnelType:
				c.Type, seenType = TunnelType(n), true
			case attrTunnelMediumType:
				c.Medium = TunnelMedium(n)
			case attrTunnelPreference:
				c.Preference, c.HasPreference = n, true
			}
		case attrTunnelClientEndpoint, attrTunnelServerEndpoint, attrTunnelAssignmentID,
			attrTunnelClientAuthID, attrTunnelServerAuthID, attrTunnelPrivateGroupID:
			tag, s := splitTaggedString(v)
			c := get(tag)
			switch avp.Type {
			case attrTunnelClientEndpoint:
				c.ClientEndpoint = s
			case attrTunnelServerEndpoint:
				c.ServerEndpoint = s
			case attrTunnelAssignmentID:
				c.AssignmentID = s
			case attrTunnelClientAuthID:
				c.ClientAuthID = s
			case attrTunnelServerAuthID:
				c.ServerAuthID = s
			case attrTunnelPrivateGroupID:
				c.PrivateGroupID = s
			}
		case attrTunnelPassword:
			// RFC 2868 section 3.5: Tag, Salt (2 octets), encrypted String.
			if len(v) < 1 || v[0] > maxTag {
				return nil, fmt.Errorf("aaa: %w: Tunnel-Password tag", ErrMalformed)
			}
			pw, _, err := radius.TunnelPassword(v[1:], secret, requestAuth[:])
			if err != nil {
				return nil, fmt.Errorf("aaa: %w: Tunnel-Password: %v", ErrMalformed, err)
			}
			get(v[0]).Password = append([]byte(nil), pw...)
		}
	}
	if !seenType {
		return nil, nil
	}
	var out []TunnelChoice
	for _, c := range byTag {
		if c != nil {
			out = append(out, *c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := uint64(out[i].Preference), uint64(out[j].Preference)
		if !out[i].HasPreference {
			pi = math.MaxUint32 + 1
		}
		if !out[j].HasPreference {
			pj = math.MaxUint32 + 1
		}
		if pi != pj {
			return pi < pj
		}
		return out[i].Tag < out[j].Tag
	})
	return out, nil
}

// AppendTunnelChoices encodes choices as tagged attributes, as a RADIUS
// server would in an Access-Accept (used by tests and the lab). The
// password is encrypted with secret and the Request Authenticator.
func AppendTunnelChoices(a radius.Attributes, choices []TunnelChoice, secret []byte, requestAuth [16]byte) (radius.Attributes, error) {
	for _, c := range choices {
		if c.Tag > maxTag {
			return nil, fmt.Errorf("aaa: tunnel tag %d above %d", c.Tag, maxTag)
		}
		a = append(a, &radius.AVP{Type: attrTunnelType, Attribute: taggedInt(c.Tag, uint32(c.Type))})
		if c.Medium != 0 {
			a = append(a, &radius.AVP{Type: attrTunnelMediumType, Attribute: taggedInt(c.Tag, uint32(c.Medium))})
		}
		if c.HasPreference {
			a = append(a, &radius.AVP{Type: attrTunnelPreference, Attribute: taggedInt(c.Tag, c.Preference)})
		}
		for _, s := range []struct {
			t radius.Type
			v string
		}{
			{attrTunnelServerEndpoint, c.ServerEndpoint},
			{attrTunnelClientEndpoint, c.ClientEndpoint},
			{attrTunnelAssignmentID, c.AssignmentID},
			{attrTunnelClientAuthID, c.ClientAuthID},
			{attrTunnelServerAuthID, c.ServerAuthID},
			{attrTunnelPrivateGroupID, c.PrivateGroupID},
		} {
			if s.v == "" {
				continue
			}
			if len(s.v) > 252 {
				return nil, fmt.Errorf("aaa: %v of %d bytes", attrName(s.t), len(s.v))
			}
			b := append(radius.Attribute{c.Tag}, s.v...)
			a = append(a, &radius.AVP{Type: s.t, Attribute: b})
		}
		if c.Password != nil {
			var salt [2]byte
			randomBytes(salt[:])
			salt[0] |= 0x80 // RFC 2868 section 3.5: the salt's MSB is set
			enc, err := radius.NewTunnelPassword(c.Password, salt[:], secret, requestAuth[:])
			if err != nil {
				return nil, fmt.Errorf("aaa: Tunnel-Password: %w", err)
			}
			a = append(a, &radius.AVP{Type: attrTunnelPassword, Attribute: append(radius.Attribute{c.Tag}, enc...)})
		}
	}
	return a, nil
}

func attrName(t radius.Type) string {
	switch t {
	case attrTunnelType:
		return "Tunnel-Type"
	case attrTunnelMediumType:
		return "Tunnel-Medium-Type"
	case attrTunnelPreference:
		return "Tunnel-Preference"
	case attrTunnelClientEndpoint:
		return "Tunnel-Client-Endpoint"
	case attrTunnelServerEndpoint:
		return "Tunnel-Server-Endpoint"
	case attrTunnelAssignmentID:
		return "Tunnel-Assignment-Id"
	case attrTunnelClientAuthID:
		return "Tunnel-Client-Auth-Id"
	case attrTunnelServerAuthID:
		return "Tunnel-Server-Auth-Id"
	case attrTunnelPrivateGroupID:
		return "Tunnel-Private-Group-Id"
	case attrTunnelPassword:
		return "Tunnel-Password"
	}
	return fmt.Sprintf("Attribute(%d)", int(t))
}

package aaa

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"layeh.com/radius"
)

// AuthRequest is what the LNS (or LAC) knows of a subscriber when it asks
// RADIUS: an Access-Request of RFC 2865 section 4.1.
type AuthRequest struct {
	Username string
	// PAPPassword is the PAP password, sent hidden in User-Password
	// (RFC 2865 section 5.2). Leave nil for CHAP.
	PAPPassword []byte
	// CHAP-MD5 (RFC 1994): the CHAP Identifier, the challenge the NAS
	// sent and the peer's 16-byte response, carried in CHAP-Password and
	// CHAP-Challenge (RFC 2865 sections 5.3 and 5.40).
	CHAPID        uint8
	CHAPChallenge []byte
	CHAPResponse  []byte

	NASPort          uint32
	NASPortID        string
	NASPortType      NASPortType // zero: Virtual
	ServiceType      ServiceType // zero: Framed-User
	CallingStationID string      // the subscriber's MAC
	CalledStationID  string
	AcctSessionID    string
	Tunnel           *TunnelInfo // the L2TP tunnel on an LNS; nil on an LAC
}

// AuthReply is the answer: Accept and what an Access-Accept grants
// (RFC 2865 section 5, RFC 2869, RFC 2868, RFC 2548).
type AuthReply struct {
	Accept       bool
	ReplyMessage string
	// FramedIP is the address to give; unset when the server sent none,
	// 255.255.255.254 or 255.255.255.255 (RFC 2865 section 5.8): then the
	// NAS assigns from FramedPool or its own pool.
	FramedIP       netip.Addr
	FramedNetmask  netip.Addr
	FramedPool     string
	DNS            []netip.Addr // MS-Primary/Secondary-DNS-Server, DNS-Server-IPv6-Address
	SessionTimeout time.Duration
	IdleTimeout    time.Duration
	// InterimInterval is Acct-Interim-Interval (RFC 2869 section 5.16).
	InterimInterval time.Duration
	Class           [][]byte // echoed in accounting (RFC 2865 section 5.25)
	FramedRoutes    []string // RFC 2865 section 5.22, as sent
	// RateLimit comes from Filter-Id in the accel-ppp "down/up" kbit/s
	// form, else from Mikrotik-Rate-Limit; zero when neither parses.
	RateLimit RateLimit
	FilterID  string
	// Tunnels are the RFC 2868 tunnel choices (for an LAC), grouped by
	// tag and sorted by preference.
	Tunnels []TunnelChoice
	// IPv6 is what the reply grants for IPv6 (RFC 3162, 4818, 6911).
	IPv6 IPv6Grant
}

// Authenticate sends an Access-Request and waits for the answer. A
// reject is a reply with Accept false and a nil error; the error is for
// requests that got no usable answer.
func (c *Client) Authenticate(ctx context.Context, req AuthRequest) (*AuthReply, error) {
	if req.Username == "" {
		return nil, fmt.Errorf("aaa: Access-Request without User-Name")
	}
	if req.PAPPassword == nil && len(req.CHAPResponse) == 0 {
		return nil, fmt.Errorf("aaa: Access-Request without PAP password or CHAP response")
	}
	if req.PAPPassword == nil && len(req.CHAPResponse) != 16 {
		return nil, fmt.Errorf("aaa: CHAP-MD5 response of %d bytes, want 16", len(req.CHAPResponse))
	}
	build := func(s *server, _ int, id uint8) ([]byte, error) {
		p, err := c.accessRequest(req, s.Secret)
		if err != nil {
			return nil, err
		}
		p.Identifier = id
		return encode(p, true)
	}
	resp, wire, err := c.exchange(ctx, false, false, build, func(code radius.Code) bool {
		return code == radius.CodeAccessAccept || code == radius.CodeAccessReject || code == radius.CodeAccessChallenge
	})
	if err != nil {
		return nil, err
	}
	var reqAuth [16]byte
	copy(reqAuth[:], wire[4:20])
	reply, err := ParseAuthReply(resp, reqAuth)
	switch {
	case err != nil:
		c.stats.malformed.Add(1)
		return nil, err
	case reply.Accept:
		c.stats.accepts.Add(1)
	case resp.Code == radius.CodeAccessChallenge:
		c.stats.challenges.Add(1)
	default:
		c.stats.rejects.Add(1)
	}
	return reply, nil
}

// accessRequest builds the Access-Request for one server (the password
// hiding depends on its secret).
func (c *Client) accessRequest(req AuthRequest, secret []byte) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, secret)
	add := func(t radius.Type, v radius.Attribute) {
		p.Attributes = append(p.Attributes, &radius.AVP{Type: t, Attribute: v})
	}
	addStr := func(t radius.Type, s string) error {
		if s == "" {
			return nil
		}
		if len(s) > 253 {
			return fmt.Errorf("aaa: attribute %d of %d bytes", int(t), len(s))
		}
		add(t, radius.Attribute(s))
		return nil
	}
	if err := addStr(attrUserName, req.Username); err != nil {
		return nil, err
	}
	if req.PAPPassword != nil {
		pw, err := radius.NewUserPassword(req.PAPPassword, secret, p.Authenticator[:])
		if err != nil {
			return nil, fmt.Errorf("aaa: User-Password: %w", err)
		}
		add(attrUserPassword, pw)
	} else {
		add(attrCHAPPassword, append(radius.Attribute{req.CHAPID}, req.CHAPResponse...))
		if len(req.CHAPChallenge) == 0 || len(req.CHAPChallenge) > 253 {
			return nil, fmt.Errorf("aaa: CHAP-Challenge of %d bytes", len(req.CHAPChallenge))
		}
		add(attrCHAPChallenge, append(radius.Attribute(nil), req.CHAPChallenge...))
	}
	c.addNAS(p)
	add(attrNASPort, radius.NewInteger(req.NASPort))
	pt, st := req.NASPortType, req.ServiceType
	if pt == 0 {
		pt = PortVirtual
	}
	if st == 0 {
		st = ServiceFramedUser
	}
	add(attrNASPortType, radius.NewInteger(uint32(pt)))
	add(attrServiceType, radius.NewInteger(uint32(st)))
	add(attrFramedProtocol, radius.NewInteger(1)) // PPP, RFC 2865 section 5.7
	for _, s := range []struct {
		t radius.Type
		v string
	}{
		{attrNASPortID, req.NASPortID},
		{attrCallingStationID, req.CallingStationID},
		{attrCalledStationID, req.CalledStationID},
		{attrAcctSessionID, req.AcctSessionID},
	} {
		if err := addStr(s.t, s.v); err != nil {
			return nil, err
		}
	}
	if req.Tunnel != nil {
		p.Attributes = req.Tunnel.AppendAttributes(p.Attributes)
	}
	return p, nil
}

func (c *Client) addNAS(p *radius.Packet) {
	if c.cfg.NASIdentifier != "" {
		p.Attributes.Add(attrNASIdentifier, radius.Attribute(c.cfg.NASIdentifier))
	}
	if c.cfg.NASIPAddress.IsValid() {
		a := c.cfg.NASIPAddress.Unmap().As4()
		p.Attributes.Add(attrNASIPAddress, a[:])
	}
}

// ParseAuthReply reads an Access-Accept, Access-Reject or Access-Challenge.
// reqAuth is the Request Authenticator of the Access-Request, needed to
// decrypt Tunnel-Password. Attributes it does not know are ignored
// (RFC 2865 section 5); a known attribute of the wrong size is an error.
func ParseAuthReply(p *radius.Packet, reqAuth [16]byte) (*AuthReply, error) {
	r := &AuthReply{Accept: p.Code == radius.CodeAccessAccept}
	bad := func(what string, n int) error {
		return fmt.Errorf("aaa: %w: %s of %d bytes in %v", ErrMalformed, what, n, p.Code)
	}
	var mikrotik string
	for _, avp := range p.Attributes {
		v := avp.Attribute
		switch avp.Type {
		case attrReplyMessage:
			if len(v) == 0 {
				continue
			}
			if r.ReplyMessage != "" {
				r.ReplyMessage += "\n"
			}
			r.ReplyMessage += string(v)
		}
		if !r.Accept {
			continue
		}
		switch avp.Type {
		case attrFramedIPAddress, attrFramedIPNetmask:
			if len(v) != 4 {
				return nil, bad("Framed-IP-Address/Netmask", len(v))
			}
			a := netip.AddrFrom4([4]byte(v))
			if avp.Type == attrFramedIPAddress {
				// RFC 2865 section 5.8: 255.255.255.254 asks the NAS to
				// pick, 255.255.255.255 lets the user pick; both leave
				// FramedIP unset for the NAS's pool.
				if a == netip.AddrFrom4([4]byte{255, 255, 255, 254}) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
					continue
				}
				r.FramedIP = a
			} else {
				r.FramedNetmask = a
			}
		case attrFramedPool:
			r.FramedPool = string(v)
		case attrSessionTimeout, attrIdleTimeout, attrAcctInterimInterval:
			if len(v) != 4 {
				return nil, bad("timeout", len(v))
			}
			d := time.Duration(binary.BigEndian.Uint32(v)) * time.Second
			switch avp.Type {
			case attrSessionTimeout:
				r.SessionTimeout = d
			case attrIdleTimeout:
				r.IdleTimeout = d
			default:
				r.InterimInterval = d
			}
		case attrClass:
			r.Class = append(r.Class, append([]byte(nil), v...))
		case attrFramedRoute:
			r.FramedRoutes = append(r.FramedRoutes, string(v))
		case attrFilterID:
			r.FilterID = string(v)
		case attrDNSServerIPv6Address:
			if len(v) != 16 {
				return nil, bad("DNS-Server-IPv6-Address", len(v))
			}
			r.DNS = append(r.DNS, netip.AddrFrom16([16]byte(v)))
		case attrFramedInterfaceID, attrFramedIPv6Prefix, attrDelegatedIPv6Prefix, attrFramedIPv6Address,
			attrFramedIPv6Pool, attrDelegatedIPv6PrefixPool, attrStatefulIPv6AddressPool, attrFramedIPv6Route:
			if _, err := r.IPv6.parse(uint8(avp.Type), v); err != nil {
				return nil, fmt.Errorf("%w in %v", err, p.Code)
			}
		case attrVendorSpecific:
			vendor, sub, val, ok := vendorAttr(v)
			if !ok {
				continue // a vendor attribute we cannot read is ignored like an unknown one
			}
			switch {
			case vendor == vendorMicrosoft && (sub == msPrimaryDNSServer || sub == msSecondaryDNSServer):
				if len(val) != 4 {
					return nil, bad("MS-DNS-Server", len(val))
				}
				r.DNS = append(r.DNS, netip.AddrFrom4([4]byte(val)))
			case vendor == vendorMikrotik && sub == mikrotikRateLimit:
				mikrotik = string(val)
			}
		}
	}
	if !r.Accept {
		return r, nil
	}
	if r.FilterID != "" {
		if rl, err := ParseRateLimit(r.FilterID); err == nil {
			r.RateLimit = rl
		}
	}
	if r.RateLimit.IsZero() && mikrotik != "" {
		if rl, err := parseMikrotikRateLimit(mikrotik); err == nil {
			r.RateLimit = rl
		}
	}
	t, err := ParseTunnels(p.Attributes, p.Secret, reqAuth)
	if err != nil {
		return nil, err
	}
	r.Tunnels = t
	return r, nil
}

// vendorAttr splits a Vendor-Specific value holding one sub-attribute
// (RFC 2865 section 5.26: Vendor-Id, then Vendor type, length, value).
func vendorAttr(v []byte) (vendor uint32, sub uint8, val []byte, ok bool) {
	if len(v) < 6 {
		return 0, 0, nil, false
	}
	vendor = binary.BigEndian.Uint32(v)
	l := int(v[5])
	if l < 2 || 4+l > len(v) {
		return 0, 0, nil, false
	}
	return vendor, v[4], v[6 : 4+l], true
}

// AppendAttributes encodes r as a RADIUS server would in an Access-Accept
// (or, with Accept false, only the Reply-Message of a reject): the
// reverse of ParseAuthReply, for test servers and the lab. secret and
// reqAuth encrypt Tunnel-Password. A rate limit that Filter-Id does not
// carry is sent as Mikrotik-Rate-Limit.
func (r *AuthReply) AppendAttributes(a radius.Attributes, secret []byte, reqAuth [16]byte) (radius.Attributes, error) {
	add := func(t radius.Type, v []byte) { a = append(a, &radius.AVP{Type: t, Attribute: v}) }
	str := func(t radius.Type, s string) error {
		if len(s) > 253 {
			return fmt.Errorf("aaa: attribute %d of %d bytes", int(t), len(s))
		}
		add(t, []byte(s))
		return nil
	}
	if r.ReplyMessage != "" {
		if err := str(attrReplyMessage, r.ReplyMessage); err != nil {
			return nil, err
		}
	}
	if !r.Accept {
		return a, nil
	}
	for _, ip := range []struct {
		t radius.Type
		a netip.Addr
	}{{attrFramedIPAddress, r.FramedIP}, {attrFramedIPNetmask, r.FramedNetmask}} {
		if ip.a.IsValid() {
			if !ip.a.Is4() {
				return nil, fmt.Errorf("aaa: %v is not IPv4", ip.a)
			}
			b := ip.a.As4()
			add(ip.t, b[:])
		}
	}
	if r.FramedPool != "" {
		if err := str(attrFramedPool, r.FramedPool); err != nil {
			return nil, err
		}
	}
	v4 := 0
	for _, d := range r.DNS {
		switch {
		case d.Is4() && v4 < 2:
			b := d.As4()
			add(attrVendorSpecific, vendorAttrBytes(vendorMicrosoft, uint8(msPrimaryDNSServer+v4), b[:]))
			v4++
		case d.Is6() && !d.Is4In6():
			b := d.As16()
			add(attrDNSServerIPv6Address, b[:])
		default:
			return nil, fmt.Errorf("aaa: DNS server %v: at most two IPv4 servers", d)
		}
	}
	for _, t := range []struct {
		t radius.Type
		d time.Duration
	}{{attrSessionTimeout, r.SessionTimeout}, {attrIdleTimeout, r.IdleTimeout}, {attrAcctInterimInterval, r.InterimInterval}} {
		if t.d != 0 {
			if t.d < 0 || t.d/time.Second > 1<<32-1 {
				return nil, fmt.Errorf("aaa: duration %v out of range", t.d)
			}
			add(t.t, radius.NewInteger(uint32(t.d/time.Second)))
		}
	}
	for _, c := range r.Class {
		if len(c) > 253 {
			return nil, fmt.Errorf("aaa: Class of %d bytes", len(c))
		}
		add(attrClass, append([]byte(nil), c...))
	}
	for _, rt := range r.FramedRoutes {
		if err := str(attrFramedRoute, rt); err != nil {
			return nil, err
		}
	}
	err := r.IPv6.append(func(t uint8, v []byte) { add(radius.Type(t), v) },
		func(t uint8, v string) error { return str(radius.Type(t), v) })
	if err != nil {
		return nil, err
	}
	fromFilter := RateLimit{}
	if r.FilterID != "" {
		if err := str(attrFilterID, r.FilterID); err != nil {
			return nil, err
		}
		fromFilter, _ = ParseRateLimit(r.FilterID)
	}
	if fromFilter != r.RateLimit && !r.RateLimit.IsZero() {
		if !fromFilter.IsZero() {
			return nil, fmt.Errorf("aaa: rate limit %v differs from Filter-Id %q", r.RateLimit, r.FilterID)
		}
		// MikroTik order: what the router receives (upload), then sends.
		s := strconv.FormatUint(r.RateLimit.UpKbps, 10) + "k/" + strconv.FormatUint(r.RateLimit.DownKbps, 10) + "k"
		add(attrVendorSpecific, vendorAttrBytes(vendorMikrotik, mikrotikRateLimit, []byte(s)))
	}
	return AppendTunnelChoices(a, r.Tunnels, secret, reqAuth)
}

func vendorAttrBytes(vendor uint32, typ uint8, val []byte) []byte {
	b := make([]byte, 6, 6+len(val))
	binary.BigEndian.PutUint32(b, vendor)
	b[4], b[5] = typ, byte(2+len(val))
	return append(b, val...)
}

package aaa

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"layeh.com/radius"
)

// AcctRequest is one accounting record (RFC 2866 section 4.1). Octets
// and packets are seen from the NAS port: In is from the subscriber
// (upload), Out is towards it (download); they are 64-bit and sent with
// Acct-Input/Output-Gigawords (RFC 2869 section 5.1).
type AcctRequest struct {
	Status           AcctStatus
	SessionID        string
	Username         string
	FramedIP         netip.Addr
	NASPort          uint32
	NASPortID        string
	NASPortType      NASPortType // zero: Virtual
	CallingStationID string
	CalledStationID  string
	InOctets         uint64
	OutOctets        uint64
	InPackets        uint64
	OutPackets       uint64
	SessionTime      time.Duration
	Cause            TerminateCause // Stop only; zero is sent as NAS-Request
	Class            [][]byte       // from the Access-Accept, echoed
	// EventTime is when the event happened; Acct-Delay-Time (RFC 2866
	// section 5.2) is computed from it at each transmission, and it is
	// sent as Event-Timestamp (RFC 2869 section 5.3). Zero means now.
	EventTime time.Time
	Tunnel    *TunnelInfo
	// What the subscriber got of IPv6 (RFC 3162 section 2.3, RFC 4818,
	// RFC 6911 section 3.1), sent in Start, Interim and Stop.
	IPv6Prefix, DelegatedPrefix netip.Prefix
	IPv6Address                 netip.Addr
	// InterfaceID is the subscriber's IPv6 interface identifier
	// (Framed-Interface-Id, RFC 3162 section 2.1); 0 for none.
	InterfaceID uint64
}

// Account sends an Accounting-Request and waits for the
// Accounting-Response. Each transmission carries the current
// Acct-Delay-Time, so a retransmission is a new packet with a new
// Identifier (RFC 2866 section 5.2). Accounting-On and -Off (Status
// AcctOn, AcctOff) need no session.
func (c *Client) Account(ctx context.Context, rec AcctRequest) error {
	switch rec.Status {
	case AcctStart, AcctStop, AcctInterimUpdate:
		if rec.SessionID == "" {
			return fmt.Errorf("aaa: %v without Acct-Session-Id", rec.Status)
		}
	case AcctOn, AcctOff:
	default:
		return fmt.Errorf("aaa: unknown Acct-Status-Type %v", rec.Status)
	}
	if rec.EventTime.IsZero() {
		rec.EventTime = c.now()
	}
	build := func(s *server, attempt int, id uint8) ([]byte, error) {
		p, err := c.accountingRequest(rec, s.Secret)
		if err != nil {
			return nil, err
		}
		p.Identifier = id
		return encode(p, true)
	}
	_, _, err := c.exchange(ctx, true, true, build, func(code radius.Code) bool {
		return code == radius.CodeAccountingResponse
	})
	if err != nil {
		return err
	}
	c.stats.acctResponses.Add(1)
	return nil
}

func (c *Client) accountingRequest(rec AcctRequest, secret []byte) (*radius.Packet, error) {
	p := &radius.Packet{Code: radius.CodeAccountingRequest, Secret: secret}
	add := func(t radius.Type, v radius.Attribute) {
		p.Attributes = append(p.Attributes, &radius.AVP{Type: t, Attribute: v})
	}
	u32 := func(t radius.Type, v uint32) { add(t, radius.NewInteger(v)) }
	str := func(t radius.Type, s string) error {
		if s == "" {
			return nil
		}
		if len(s) > 253 {
			return fmt.Errorf("aaa: attribute %d of %d bytes", int(t), len(s))
		}
		add(t, radius.Attribute(s))
		return nil
	}
	u32(attrAcctStatusType, uint32(rec.Status))
	delay := c.now().Sub(rec.EventTime)
	if delay < 0 {
		delay = 0
	}
	u32(attrAcctDelayTime, uint32(delay/time.Second))
	u32(attrEventTimestamp, uint32(rec.EventTime.Unix()))
	c.addNAS(p)
	for _, s := range []struct {
		t radius.Type
		v string
	}{
		{attrAcctSessionID, rec.SessionID},
		{attrUserName, rec.Username},
		{attrNASPortID, rec.NASPortID},
		{attrCallingStationID, rec.CallingStationID},
		{attrCalledStationID, rec.CalledStationID},
	} {
		if err := str(s.t, s.v); err != nil {
			return nil, err
		}
	}
	if rec.Status == AcctOn || rec.Status == AcctOff {
		return p, nil
	}
	u32(attrAcctAuthentic, 1) // RADIUS, RFC 2866 section 5.6
	u32(attrNASPort, rec.NASPort)
	pt := rec.NASPortType
	if pt == 0 {
		pt = PortVirtual
	}
	u32(attrNASPortType, uint32(pt))
	u32(attrServiceType, uint32(ServiceFramedUser))
	u32(attrFramedProtocol, 1)
	if rec.FramedIP.IsValid() && rec.FramedIP.Unmap().Is4() {
		a := rec.FramedIP.Unmap().As4()
		add(attrFramedIPAddress, a[:])
	}
	for _, pp := range []struct {
		t radius.Type
		p netip.Prefix
	}{{attrFramedIPv6Prefix, rec.IPv6Prefix}, {attrDelegatedIPv6Prefix, rec.DelegatedPrefix}} {
		if pp.p.IsValid() {
			v, err := appendIPv6Prefix(nil, pp.p)
			if err != nil {
				return nil, err
			}
			add(pp.t, v)
		}
	}
	if a := rec.IPv6Address; a.IsValid() && a.Is6() && !a.Is4In6() {
		b := a.As16()
		add(attrFramedIPv6Address, b[:])
	}
	if id := rec.InterfaceID; id != 0 {
		add(attrFramedInterfaceID, binary.BigEndian.AppendUint64(nil, id))
	}
	for _, cl := range rec.Class {
		if len(cl) > 253 {
			return nil, fmt.Errorf("aaa: Class of %d bytes", len(cl))
		}
		add(attrClass, append(radius.Attribute(nil), cl...))
	}
	if rec.Tunnel != nil {
		p.Attributes = rec.Tunnel.AppendAttributes(p.Attributes)
	}
	if rec.Status == AcctStart {
		return p, nil
	}
	u32(attrAcctSessionTime, uint32(rec.SessionTime/time.Second))
	u32(attrAcctInputOctets, uint32(rec.InOctets))
	u32(attrAcctOutputOctets, uint32(rec.OutOctets))
	u32(attrAcctInputGigawords, uint32(rec.InOctets>>32))
	u32(attrAcctOutputGigawords, uint32(rec.OutOctets>>32))
	u32(attrAcctInputPackets, uint32(min(rec.InPackets, 1<<32-1)))
	u32(attrAcctOutputPackets, uint32(min(rec.OutPackets, 1<<32-1)))
	if rec.Status == AcctStop {
		cause := rec.Cause
		if cause == 0 {
			cause = NASRequest
		}
		u32(attrAcctTerminateCause, uint32(cause))
	}
	return p, nil
}

package lac

import (
	"encoding/binary"
	"fmt"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// VendorBBF is the IANA enterprise number of the Broadband Forum (formerly
// ADSL Forum), 3561, the Vendor ID of the access-line AVPs below.
const VendorBBF = 3561

// Access-line information travels to the LNS as vendor AVPs: Vendor ID
// 3561 (Broadband Forum), Attribute Type = the sub-option number of the
// PPPoE Vendor-Specific tag it came from (RFC 4679 section 3: 0x01
// Agent-Circuit-Id, 0x02 Agent-Remote-Id, 0x81-0x8e rates and delays as
// 4-octet integers, 0x90 Access-Loop-Encapsulation, 0xfe IWF-Session), the
// value copied as it is, M bit clear so that an LNS that does not know
// them ignores them (RFC 2661 section 4.1). RFC 5515 defines IETF AVP
// numbers for the same information; they are not used because this code
// could not check them against the RFC text.

// AccessLineAVPs returns the access-line information of a as vendor AVPs
// (see above), in the order of the PPPoE tag. nil for a nil a.
func AccessLineAVPs(a *pppoe.AccessLine) ([]l2tp.AVP, error) {
	if a == nil {
		return nil, nil
	}
	v, err := a.Append(nil)
	if err != nil {
		return nil, fmt.Errorf("lac: access line: %w", err)
	}
	v = v[4:] // the vendor id
	var avps []l2tp.AVP
	for len(v) >= 2 {
		t, n := v[0], int(v[1])
		if n > len(v)-2 {
			return nil, fmt.Errorf("lac: access line sub-option %#02x overruns", t)
		}
		avps = append(avps, l2tp.AVP{VendorID: VendorBBF, Type: l2tp.AVPType(t), Value: append([]byte(nil), v[2:2+n]...)})
		v = v[2+n:]
	}
	return avps, nil
}

// ParseAccessLineAVPs collects the access-line vendor AVPs of m back into
// an AccessLine (what an LNS does); ok is false when m carries none.
func ParseAccessLineAVPs(m *l2tp.Message) (a pppoe.AccessLine, ok bool, err error) {
	v := binary.BigEndian.AppendUint32(nil, VendorBBF)
	for _, avp := range m.AVPs {
		if avp.VendorID != VendorBBF || avp.Type > 0xff || len(avp.Value) > 0xff {
			continue
		}
		v = append(v, byte(avp.Type), byte(len(avp.Value)))
		v = append(v, avp.Value...)
		ok = true
	}
	if !ok {
		return a, false, nil
	}
	a, err = pppoe.ParseAccessLine(v)
	return a, true, err
}

// CallInfo is what the LAC tells the LNS about a subscriber in the ICRQ
// (RFC 2661 section 6.6).
type CallInfo struct {
	MAC        pppoe.MAC
	Service    string
	SessionID  uint16 // PPPoE session ID, sent as Physical Channel ID
	AccessLine *pppoe.AccessLine
}

// ICRQAVPs returns the ICRQ AVPs of a call (section 6.6): Calling Number
// is the access line's Agent-Circuit-Id when there is one, else the
// subscriber's MAC; Called Number is the PPPoE service name; Physical
// Channel ID is the PPPoE session ID; Bearer Type digital; and the
// access-line vendor AVPs. The Call Serial Number is added by the engine.
func ICRQAVPs(c CallInfo) ([]l2tp.AVP, error) {
	calling := c.MAC.String()
	if c.AccessLine != nil && c.AccessLine.CircuitID != "" {
		calling = c.AccessLine.CircuitID
	}
	avps := []l2tp.AVP{
		l2tp.BearerDigital.AVP(l2tp.AVPBearerType),
		l2tp.NewAVPUint32(l2tp.AVPPhysicalChannelID, uint32(c.SessionID)),
		l2tp.NewAVPString(l2tp.AVPCallingNumber, calling),
		l2tp.NewAVPString(l2tp.AVPCalledNumber, c.Service),
	}
	al, err := AccessLineAVPs(c.AccessLine)
	if err != nil {
		return nil, err
	}
	return append(avps, al...), nil
}

// ICCNAVPs returns the ICCN AVPs (section 6.8): Tx Connect Speed (the
// access line's actual downstream rate when known, else 100 Mbit/s),
// Framing Type synchronous, and with p the proxy LCP and proxy
// authentication AVPs of section 4.4.5.
func ICCNAVPs(a *pppoe.AccessLine, p *ppp.Proxy) []l2tp.AVP {
	speed := uint32(100_000_000)
	if a != nil && a.ActualRateDown != 0 && a.ActualRateDown < 1<<32/1000 {
		speed = a.ActualRateDown * 1000
	}
	avps := []l2tp.AVP{
		l2tp.NewAVPUint32(l2tp.AVPTxConnectSpeed, speed),
		l2tp.FramingSync.AVP(l2tp.AVPFramingType),
	}
	if p != nil {
		avps = append(avps, ProxyAVPs(*p)...)
	}
	return avps
}

// ProxyAVPs returns the proxy LCP and proxy authentication AVPs (RFC 2661
// section 4.4.5, types 26-33) for what the LAC negotiated with the
// subscriber: the raw Configure-Request options and the credentials; a
// PAP password travels in Proxy Authen Response.
func ProxyAVPs(p ppp.Proxy) []l2tp.AVP {
	typ := l2tp.ProxyAuthenType(p.AuthProto.ProxyAuthenType())
	avps := []l2tp.AVP{
		l2tp.NewAVPBytes(l2tp.AVPInitialRecvLCPConfReq, p.InitialRecvConfReq),
		l2tp.NewAVPBytes(l2tp.AVPLastSentLCPConfReq, p.LastSentConfReq),
		l2tp.NewAVPBytes(l2tp.AVPLastRecvLCPConfReq, p.LastRecvConfReq),
		typ.AVP(),
	}
	switch typ {
	case l2tp.ProxyAuthenPAP:
		avps = append(avps,
			l2tp.NewAVPString(l2tp.AVPProxyAuthenName, p.AuthName),
			l2tp.NewAVPProxyAuthenID(p.AuthID),
			l2tp.NewAVPBytes(l2tp.AVPProxyAuthenResponse, p.AuthResponse))
	case l2tp.ProxyAuthenCHAP:
		avps = append(avps,
			l2tp.NewAVPString(l2tp.AVPProxyAuthenName, p.AuthName),
			l2tp.NewAVPBytes(l2tp.AVPProxyAuthenChallenge, p.AuthChallenge),
			l2tp.NewAVPProxyAuthenID(p.AuthID),
			l2tp.NewAVPBytes(l2tp.AVPProxyAuthenResponse, p.AuthResponse))
	}
	return avps
}

// ProxyFromICCN reads the proxy AVPs of an ICCN back (what an LNS does
// before ppp.Session.StartProxied); ok is false without Proxy Authen Type.
func ProxyFromICCN(m *l2tp.Message) (p ppp.Proxy, ok bool, err error) {
	get := func(t l2tp.AVPType) []byte {
		if a, ok := m.Find(t); ok {
			return append([]byte(nil), a.Value...)
		}
		return nil
	}
	ta, ok := m.Find(l2tp.AVPProxyAuthenType)
	if !ok {
		return p, false, nil
	}
	typ, err := l2tp.ParseProxyAuthenType(ta.Value)
	if err != nil {
		return p, true, err
	}
	proto, known := ppp.AuthFromProxyAuthenType(uint16(typ))
	if !known {
		return p, true, fmt.Errorf("lac: proxy authentication %v", typ)
	}
	p = ppp.Proxy{
		InitialRecvConfReq: get(l2tp.AVPInitialRecvLCPConfReq),
		LastSentConfReq:    get(l2tp.AVPLastSentLCPConfReq),
		LastRecvConfReq:    get(l2tp.AVPLastRecvLCPConfReq),
		AuthProto:          proto,
		AuthName:           string(get(l2tp.AVPProxyAuthenName)),
		AuthChallenge:      get(l2tp.AVPProxyAuthenChallenge),
		AuthResponse:       get(l2tp.AVPProxyAuthenResponse),
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenID); ok {
		if p.AuthID, err = l2tp.ParseProxyAuthenID(a.Value); err != nil {
			return p, true, err
		}
	}
	return p, true, nil
}

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

// Access-line information travels to the LNS as the Broadband Forum's
// vendor AVPs: Vendor ID 3561, Attribute Type = the number of the PPPoE
// access-line sub-option it comes from (RFC 4679 section 3), M bit clear
// so that an LNS that does not know them ignores them (RFC 2661 section
// 4.1):
//
//	1    Agent-Circuit-Id                 string
//	2    Agent-Remote-Id                  string
//	129-138 the data rates (actual, minimum, attainable, maximum, low
//	     power; upstream then downstream)  8 octets, bit/s
//	139-142 the interleaving delays        4 octets, ms
//	144  Access-Loop-Encapsulation        3 octets
//
// This is the layout RFC 5515 gives these AVPs as Wireshark's L2TP
// dissector implements it (the RFC text is not in the tree; the layout is
// checked against tshark in TestTsharkICRQICCN). PPPoE carries the rates
// in kbit/s in 4 octets, L2TP in bit/s in 8. Sub-options the pppoe package
// does not interpret are passed on unchanged; IWF-Session is not sent.

// accessLineRates are the rate sub-options in order; the delays follow.
var accessLineRates = []pppoe.SubOption{
	pppoe.SubActualRateUp, pppoe.SubActualRateDown, pppoe.SubMinRateUp, pppoe.SubMinRateDown,
	pppoe.SubAttainableRateUp, pppoe.SubAttainableRateDown, pppoe.SubMaxRateUp, pppoe.SubMaxRateDown,
	pppoe.SubMinRateUpLowPower, pppoe.SubMinRateDownLowPower,
}

var accessLineDelays = []pppoe.SubOption{
	pppoe.SubMaxInterleavingDelayUp, pppoe.SubActualInterleavingDelayUp,
	pppoe.SubMaxInterleavingDelayDown, pppoe.SubActualInterleavingDelayDown,
}

// lineField returns the field of a rate or delay sub-option.
func lineField(a *pppoe.AccessLine, t pppoe.SubOption) *uint32 {
	switch t {
	case pppoe.SubActualRateUp:
		return &a.ActualRateUp
	case pppoe.SubActualRateDown:
		return &a.ActualRateDown
	case pppoe.SubMinRateUp:
		return &a.MinRateUp
	case pppoe.SubMinRateDown:
		return &a.MinRateDown
	case pppoe.SubAttainableRateUp:
		return &a.AttainableRateUp
	case pppoe.SubAttainableRateDown:
		return &a.AttainableRateDown
	case pppoe.SubMaxRateUp:
		return &a.MaxRateUp
	case pppoe.SubMaxRateDown:
		return &a.MaxRateDown
	case pppoe.SubMinRateUpLowPower:
		return &a.MinRateUpLowPower
	case pppoe.SubMinRateDownLowPower:
		return &a.MinRateDownLowPower
	case pppoe.SubMaxInterleavingDelayUp:
		return &a.MaxInterleavingDelayUp
	case pppoe.SubActualInterleavingDelayUp:
		return &a.ActualInterleavingDelayUp
	case pppoe.SubMaxInterleavingDelayDown:
		return &a.MaxInterleavingDelayDown
	case pppoe.SubActualInterleavingDelayDown:
		return &a.ActualInterleavingDelayDown
	}
	return nil
}

func isRate(t pppoe.SubOption) bool {
	return t >= pppoe.SubActualRateUp && t <= pppoe.SubMinRateDownLowPower
}

func bbfAVP(t pppoe.SubOption, v []byte) l2tp.AVP {
	return l2tp.AVP{VendorID: VendorBBF, Type: l2tp.AVPType(t), Value: v}
}

// AccessLineAVPs returns the access-line information of a as the vendor
// AVPs above. nil for a nil a.
func AccessLineAVPs(a *pppoe.AccessLine) ([]l2tp.AVP, error) {
	if a == nil {
		return nil, nil
	}
	var avps []l2tp.AVP
	if a.CircuitID != "" {
		avps = append(avps, bbfAVP(pppoe.SubAgentCircuitID, []byte(a.CircuitID)))
	}
	if a.RemoteID != "" {
		avps = append(avps, bbfAVP(pppoe.SubAgentRemoteID, []byte(a.RemoteID)))
	}
	for _, t := range accessLineRates {
		if v := *lineField(a, t); v != 0 {
			avps = append(avps, bbfAVP(t, binary.BigEndian.AppendUint64(nil, uint64(v)*1000)))
		}
	}
	for _, t := range accessLineDelays {
		if v := *lineField(a, t); v != 0 {
			avps = append(avps, bbfAVP(t, binary.BigEndian.AppendUint32(nil, v)))
		}
	}
	if a.HasEncapsulation {
		avps = append(avps, bbfAVP(pppoe.SubAccessLoopEncapsulation, append([]byte(nil), a.Encapsulation[:]...)))
	}
	for _, u := range a.Unknown {
		if len(u.Value) > 1023-6 {
			return nil, fmt.Errorf("lac: access line %v of %d octets is too long for an AVP", u.Type, len(u.Value))
		}
		avps = append(avps, bbfAVP(u.Type, append([]byte(nil), u.Value...)))
	}
	return avps, nil
}

// ParseAccessLineAVPs collects the access-line vendor AVPs of m back into
// an AccessLine (what an LNS does); ok is false when m carries none. A
// value of the wrong size is an error.
func ParseAccessLineAVPs(m *l2tp.Message) (a pppoe.AccessLine, ok bool, err error) {
	for _, avp := range m.AVPs {
		if avp.VendorID != VendorBBF || avp.Type > 0xff {
			continue
		}
		ok = true
		t, v := pppoe.SubOption(avp.Type), avp.Value
		switch {
		case t == pppoe.SubAgentCircuitID:
			a.CircuitID = string(v)
		case t == pppoe.SubAgentRemoteID:
			a.RemoteID = string(v)
		case isRate(t):
			if len(v) != 8 {
				return a, true, fmt.Errorf("lac: %v AVP of %d octets, want 8", t, len(v))
			}
			kbps := binary.BigEndian.Uint64(v) / 1000
			if kbps > 1<<32-1 {
				return a, true, fmt.Errorf("lac: %v of %d kbit/s does not fit the PPPoE tag", t, kbps)
			}
			*lineField(&a, t) = uint32(kbps)
		case lineField(&a, t) != nil:
			if len(v) != 4 {
				return a, true, fmt.Errorf("lac: %v AVP of %d octets, want 4", t, len(v))
			}
			*lineField(&a, t) = binary.BigEndian.Uint32(v)
		case t == pppoe.SubAccessLoopEncapsulation:
			if len(v) != 3 {
				return a, true, fmt.Errorf("lac: %v AVP of %d octets, want 3", t, len(v))
			}
			copy(a.Encapsulation[:], v)
			a.HasEncapsulation = true
		case t == pppoe.SubIWFSession:
			a.IWFSession = true
		default:
			a.Unknown = append(a.Unknown, pppoe.RawSubOption{Type: t, Value: append([]byte(nil), v...)})
		}
	}
	return a, ok, nil
}

// CallInfo is what the LAC tells the LNS about a subscriber in the ICRQ
// (RFC 2661 section 6.6).
type CallInfo struct {
	MAC     pppoe.MAC
	Service string
	// PhysicalChannel is the Physical Channel ID (section 4.4.5): the
	// subscriber's tags or PPPoE session ID, as [access]
	// physical-channel-id says (PhysicalChannel.Value).
	PhysicalChannel uint32
	AccessLine      *pppoe.AccessLine
}

// ICRQAVPs returns the ICRQ AVPs of a call (section 6.6): Calling Number
// is the access line's Agent-Circuit-Id when there is one, else the
// subscriber's MAC; Called Number is the PPPoE service name; Physical
// Channel ID; Bearer Type digital; and the access-line vendor AVPs. The
// Call Serial Number is added by the engine.
func ICRQAVPs(c CallInfo) ([]l2tp.AVP, error) {
	calling := c.MAC.String()
	if c.AccessLine != nil && c.AccessLine.CircuitID != "" {
		calling = c.AccessLine.CircuitID
	}
	avps := []l2tp.AVP{
		l2tp.BearerDigital.AVP(l2tp.AVPBearerType),
		l2tp.NewAVPUint32(l2tp.AVPPhysicalChannelID, c.PhysicalChannel),
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

package pppoe

import (
	"encoding/binary"
	"fmt"
)

// VendorBBF is the IANA enterprise number of the Broadband Forum (formerly
// the DSL Forum) whose Vendor-Specific tag carries access-line information
// inserted by an intermediate agent (TR-101 section 3.9.3; the sub-option
// numbers are those of RFC 4679 section 3).
const VendorBBF = 3561

// SubOption is the type of one access-line sub-option of the Broadband
// Forum Vendor-Specific tag (TR-101, RFC 4679 section 3).
type SubOption uint8

// Access-line sub-options, RFC 4679 sections 3.1-3.3.
const (
	SubAgentCircuitID              SubOption = 0x01
	SubAgentRemoteID               SubOption = 0x02
	SubActualRateUp                SubOption = 0x81
	SubActualRateDown              SubOption = 0x82
	SubMinRateUp                   SubOption = 0x83
	SubMinRateDown                 SubOption = 0x84
	SubAttainableRateUp            SubOption = 0x85
	SubAttainableRateDown          SubOption = 0x86
	SubMaxRateUp                   SubOption = 0x87
	SubMaxRateDown                 SubOption = 0x88
	SubMinRateUpLowPower           SubOption = 0x89
	SubMinRateDownLowPower         SubOption = 0x8a
	SubMaxInterleavingDelayUp      SubOption = 0x8b
	SubActualInterleavingDelayUp   SubOption = 0x8c
	SubMaxInterleavingDelayDown    SubOption = 0x8d
	SubActualInterleavingDelayDown SubOption = 0x8e
	SubAccessLoopEncapsulation     SubOption = 0x90
	SubIWFSession                  SubOption = 0xfe
)

func (s SubOption) String() string {
	switch s {
	case SubAgentCircuitID:
		return "Agent-Circuit-Id"
	case SubAgentRemoteID:
		return "Agent-Remote-Id"
	case SubActualRateUp:
		return "Actual-Data-Rate-Upstream"
	case SubActualRateDown:
		return "Actual-Data-Rate-Downstream"
	case SubMinRateUp:
		return "Minimum-Data-Rate-Upstream"
	case SubMinRateDown:
		return "Minimum-Data-Rate-Downstream"
	case SubAttainableRateUp:
		return "Attainable-Data-Rate-Upstream"
	case SubAttainableRateDown:
		return "Attainable-Data-Rate-Downstream"
	case SubMaxRateUp:
		return "Maximum-Data-Rate-Upstream"
	case SubMaxRateDown:
		return "Maximum-Data-Rate-Downstream"
	case SubMinRateUpLowPower:
		return "Minimum-Data-Rate-Upstream-Low-Power"
	case SubMinRateDownLowPower:
		return "Minimum-Data-Rate-Downstream-Low-Power"
	case SubMaxInterleavingDelayUp:
		return "Maximum-Interleaving-Delay-Upstream"
	case SubActualInterleavingDelayUp:
		return "Actual-Interleaving-Delay-Upstream"
	case SubMaxInterleavingDelayDown:
		return "Maximum-Interleaving-Delay-Downstream"
	case SubActualInterleavingDelayDown:
		return "Actual-Interleaving-Delay-Downstream"
	case SubAccessLoopEncapsulation:
		return "Access-Loop-Encapsulation"
	case SubIWFSession:
		return "IWF-Session"
	}
	return fmt.Sprintf("SubOption(%#02x)", uint8(s))
}

// RawSubOption is a sub-option this package does not interpret.
type RawSubOption struct {
	Type  SubOption
	Value []byte
}

// AccessLine is the access-line information of the Broadband Forum
// Vendor-Specific tag (vendor 3561), what the LAC passes on to RADIUS.
// Rates are in kbit/s and delays in milliseconds (RFC 4679 section 3.2).
type AccessLine struct {
	CircuitID string
	RemoteID  string

	// Rates; zero when absent.
	ActualRateUp, ActualRateDown           uint32
	MinRateUp, MinRateDown                 uint32
	AttainableRateUp, AttainableRateDown   uint32
	MaxRateUp, MaxRateDown                 uint32
	MinRateUpLowPower, MinRateDownLowPower uint32
	MaxInterleavingDelayUp                 uint32
	ActualInterleavingDelayUp              uint32
	MaxInterleavingDelayDown               uint32
	ActualInterleavingDelayDown            uint32

	// Encapsulation is the Access-Loop-Encapsulation (data link, encaps 1,
	// encaps 2; RFC 4679 section 3.3), valid when HasEncapsulation.
	Encapsulation    [3]byte
	HasEncapsulation bool
	// IWFSession is set when the IWF-Session sub-option is present.
	IWFSession bool

	// Unknown keeps the sub-options not interpreted above, in order.
	Unknown []RawSubOption
}

// rateFields maps the 4-octet sub-options to their fields.
func (a *AccessLine) rateField(t SubOption) *uint32 {
	switch t {
	case SubActualRateUp:
		return &a.ActualRateUp
	case SubActualRateDown:
		return &a.ActualRateDown
	case SubMinRateUp:
		return &a.MinRateUp
	case SubMinRateDown:
		return &a.MinRateDown
	case SubAttainableRateUp:
		return &a.AttainableRateUp
	case SubAttainableRateDown:
		return &a.AttainableRateDown
	case SubMaxRateUp:
		return &a.MaxRateUp
	case SubMaxRateDown:
		return &a.MaxRateDown
	case SubMinRateUpLowPower:
		return &a.MinRateUpLowPower
	case SubMinRateDownLowPower:
		return &a.MinRateDownLowPower
	case SubMaxInterleavingDelayUp:
		return &a.MaxInterleavingDelayUp
	case SubActualInterleavingDelayUp:
		return &a.ActualInterleavingDelayUp
	case SubMaxInterleavingDelayDown:
		return &a.MaxInterleavingDelayDown
	case SubActualInterleavingDelayDown:
		return &a.ActualInterleavingDelayDown
	}
	return nil
}

var rateOrder = []SubOption{
	SubActualRateUp, SubActualRateDown, SubMinRateUp, SubMinRateDown,
	SubAttainableRateUp, SubAttainableRateDown, SubMaxRateUp, SubMaxRateDown,
	SubMinRateUpLowPower, SubMinRateDownLowPower,
	SubMaxInterleavingDelayUp, SubActualInterleavingDelayUp,
	SubMaxInterleavingDelayDown, SubActualInterleavingDelayDown,
}

// ParseAccessLine decodes the value of a Vendor-Specific tag whose vendor
// id is 3561: the 4-octet vendor id, then sub-options TYPE(1) LENGTH(1)
// VALUE. The result holds copies, not aliases of b.
func ParseAccessLine(b []byte) (AccessLine, error) {
	var a AccessLine
	if len(b) < 4 {
		return a, fmt.Errorf("pppoe: vendor id: %w", ErrShort)
	}
	if v := binary.BigEndian.Uint32(b); v != VendorBBF {
		return a, fmt.Errorf("pppoe: vendor %d is not the Broadband Forum: %w", v, ErrMalformed)
	}
	for off := 4; off < len(b); {
		if len(b)-off < 2 {
			return a, fmt.Errorf("pppoe: access-line sub-option at %d: %w", off, ErrShort)
		}
		t, n := SubOption(b[off]), int(b[off+1])
		off += 2
		if n > len(b)-off {
			return a, fmt.Errorf("pppoe: access-line %v length %d overruns the tag: %w", t, n, ErrMalformed)
		}
		v := b[off : off+n]
		off += n
		switch {
		case t == SubAgentCircuitID:
			a.CircuitID = string(v)
		case t == SubAgentRemoteID:
			a.RemoteID = string(v)
		case t == SubAccessLoopEncapsulation:
			if n != 3 {
				return a, fmt.Errorf("pppoe: %v of %d octets: %w", t, n, ErrMalformed)
			}
			copy(a.Encapsulation[:], v)
			a.HasEncapsulation = true
		case t == SubIWFSession:
			if n != 0 {
				return a, fmt.Errorf("pppoe: %v of %d octets: %w", t, n, ErrMalformed)
			}
			a.IWFSession = true
		case a.rateField(t) != nil:
			if n != 4 {
				return a, fmt.Errorf("pppoe: %v of %d octets: %w", t, n, ErrMalformed)
			}
			*a.rateField(t) = binary.BigEndian.Uint32(v)
		default:
			a.Unknown = append(a.Unknown, RawSubOption{Type: t, Value: append([]byte(nil), v...)})
		}
	}
	return a, nil
}

// Append encodes a as the value of a Vendor-Specific tag (vendor id
// included). Zero rates are left out.
func (a *AccessLine) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, VendorBBF)
	for _, s := range []struct {
		t SubOption
		v string
	}{{SubAgentCircuitID, a.CircuitID}, {SubAgentRemoteID, a.RemoteID}} {
		if s.v == "" {
			continue
		}
		if len(s.v) > 0xff {
			return b[:start], fmt.Errorf("pppoe: %v of %d octets: %w", s.t, len(s.v), ErrTooLong)
		}
		b = append(b, byte(s.t), byte(len(s.v)))
		b = append(b, s.v...)
	}
	for _, t := range rateOrder {
		if v := *a.rateField(t); v != 0 {
			b = append(b, byte(t), 4)
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	if a.HasEncapsulation {
		b = append(b, byte(SubAccessLoopEncapsulation), 3)
		b = append(b, a.Encapsulation[:]...)
	}
	if a.IWFSession {
		b = append(b, byte(SubIWFSession), 0)
	}
	for _, u := range a.Unknown {
		if len(u.Value) > 0xff {
			return b[:start], fmt.Errorf("pppoe: %v of %d octets: %w", u.Type, len(u.Value), ErrTooLong)
		}
		b = append(b, byte(u.Type), byte(len(u.Value)))
		b = append(b, u.Value...)
	}
	return b, nil
}

// AccessLine finds the Broadband Forum Vendor-Specific tag of p and decodes
// it. ok is false when there is none; err reports a malformed one.
func (p *Packet) AccessLine() (a AccessLine, ok bool, err error) {
	for i := range p.Tags {
		t := &p.Tags[i]
		if t.Type != TagVendorSpecific || len(t.Value) < 4 || binary.BigEndian.Uint32(t.Value) != VendorBBF {
			continue
		}
		a, err = ParseAccessLine(t.Value)
		return a, true, err
	}
	return a, false, nil
}

package ppp

import (
	"fmt"
	"strings"
	"testing"
)

// TestStrings: every known wire number and enum value has a name, and an
// unknown one prints its number.
func TestStrings(t *testing.T) {
	var known []fmt.Stringer
	for c := ConfReq; c <= DiscardReq; c++ {
		known = append(known, c)
	}
	for _, o := range []LCPOption{LCPMRU, LCPACCM, LCPAuthProtocol, LCPQuality, LCPMagicNumber, LCPPFC, LCPACFC, LCPCallback, LCPMRRU} {
		known = append(known, o)
	}
	for _, o := range []IPCPOption{IPCPAddresses, IPCPCompression, IPCPAddress, IPCPPrimaryDNS, IPCPPrimaryNBNS, IPCPSecondaryDNS, IPCPSecondaryNBNS} {
		known = append(known, o)
	}
	for s := Initial; s <= Opened; s++ {
		known = append(known, s)
	}
	for e := Up; e < numEvents; e++ {
		known = append(known, e)
	}
	for a := TLU; a <= SER; a++ {
		known = append(known, a)
	}
	for p := PhaseDead; p <= PhaseTerminate; p++ {
		known = append(known, p)
	}
	for r := ReasonNone; r <= ReasonLowerDown; r++ {
		known = append(known, r)
	}
	for _, x := range []fmt.Stringer{AuthNone, AuthPAP, AuthCHAPMD5, PAPRequest, PAPAck, PAPNak,
		CHAPChallenge, CHAPResponse, CHAPSuccess, CHAPFailure, Server, Client, IPv6CPInterfaceID,
		ProtoIPv4, ProtoIPv6, ProtoIPCP, ProtoIPv6CP, ProtoLCP, ProtoPAP, ProtoLQR, ProtoCHAP} {
		known = append(known, x)
	}
	seen := map[string]bool{}
	for _, k := range known {
		s := k.String()
		if strings.Contains(s, "(") || s == "" {
			t.Errorf("%T %v has no name: %q", k, k, s)
		}
		key := fmt.Sprintf("%T/%s", k, s)
		if seen[key] {
			t.Errorf("%T: two values named %q", k, s)
		}
		seen[key] = true
	}
	for _, tc := range []struct {
		got, want string
	}{
		{Code(99).String(), "Code(99)"},
		{LCPOption(99).String(), "LCPOption(99)"},
		{IPCPOption(99).String(), "IPCPOption(99)"},
		{State(99).String(), "State(99)"},
		{Event(99).String(), "Event(99)"},
		{Action(99).String(), "Action(99)"},
		{Phase(99).String(), "Phase(99)"},
		{Reason(99).String(), "Reason(99)"},
		{AuthProto(99).String(), "AuthProto(99)"},
		{PAPCode(99).String(), "PAPCode(99)"},
		{CHAPCode(99).String(), "CHAPCode(99)"},
		{Protocol(0x8023).String(), "Protocol(0x8023)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

package lns

import (
	"testing"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

func TestPPPCause(t *testing.T) {
	for _, tc := range []struct {
		r    ppp.Reason
		want accounting.TerminateCause
	}{
		{ppp.ReasonPeerTerminate, accounting.CauseUserRequest},
		{ppp.ReasonEchoTimeout, accounting.CauseLostCarrier},
		{ppp.ReasonAuthFailed, accounting.CauseUserError},
		{ppp.ReasonNegotiationFailed, accounting.CauseUserError},
		{ppp.ReasonLoopback, accounting.CausePortError},
		{ppp.ReasonLowerDown, accounting.CauseNASError},
	} {
		if got := pppCause(tc.r); got != tc.want {
			t.Errorf("pppCause(%v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// TestCallDownCause: CDN Result Codes (RFC 2661 section 4.4.2), PPP
// Disconnect Cause Codes (RFC 3145 section 3), Q.931 normal clearing and
// StopCCN Result Codes, each to its RFC 2866 section 5.10 cause.
func TestCallDownCause(t *testing.T) {
	cdn := func(avps ...l2tp.AVP) *l2tp.Message { return &l2tp.Message{Type: l2tp.MsgCDN, AVPs: avps} }
	disc := func(code l2tp.PPPDisconnectCode, dir l2tp.DisconnectDirection) l2tp.AVP {
		return l2tp.PPPDisconnectCause{Code: code, Direction: dir}.AVP()
	}
	rc := func(r l2tp.CDNResult) l2tp.ResultCode { return l2tp.ResultCode{Result: uint16(r)} }
	tests := []struct {
		name       string
		rc         l2tp.ResultCode
		cdn        *l2tp.Message
		lostTunnel bool
		want       accounting.TerminateCause
	}{
		{"CDN 1 loss of carrier", rc(l2tp.CDNLostCarrier), cdn(), false, accounting.CauseLostCarrier},
		{"CDN 2 general error", l2tp.ResultCode{Result: 2, HasError: true, Error: uint16(l2tp.ErrorInsufficientResources)}, cdn(), false, accounting.CauseNASError},
		{"CDN 3 administrative", rc(l2tp.CDNAdmin), cdn(), false, accounting.CauseAdminReset},
		{"CDN 4 no facilities, temporary", rc(l2tp.CDNNoFacilitiesTemporary), cdn(), false, accounting.CauseServiceUnavailable},
		{"CDN 5 no facilities, permanent", rc(l2tp.CDNNoFacilitiesPermanent), cdn(), false, accounting.CauseServiceUnavailable},
		{"CDN 6 invalid destination", rc(l2tp.CDNInvalidDestination), cdn(), false, accounting.CauseServiceUnavailable},
		{"CDN 7 no carrier", rc(l2tp.CDNNoCarrier), cdn(), false, accounting.CauseLostCarrier},
		{"CDN 8 busy", rc(l2tp.CDNBusy), cdn(), false, accounting.CausePortError},
		{"CDN 9 no dial tone", rc(l2tp.CDNNoDialTone), cdn(), false, accounting.CausePortError},
		{"CDN 10 set-up timeout", rc(l2tp.CDNTimeout), cdn(), false, accounting.CausePortError},
		{"CDN 11 no framing", rc(l2tp.CDNNoFraming), cdn(), false, accounting.CausePortError},
		{"CDN of an unknown result", l2tp.ResultCode{Result: 99}, cdn(), false, accounting.CauseLostCarrier},
		{"RFC 3145 normal, Terminate-Request by the subscriber", rc(l2tp.CDNLostCarrier), cdn(disc(l2tp.DiscNormal, l2tp.DirectionPeer)), false, accounting.CauseUserRequest},
		{"RFC 3145 normal, Terminate-Request by the LAC", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscNormal, l2tp.DirectionLocal)), false, accounting.CauseNASRequest},
		{"RFC 3145 administrative", rc(l2tp.CDNGeneralError), cdn(disc(l2tp.DiscAdministrative, l2tp.DirectionGlobal)), false, accounting.CauseAdminReset},
		{"RFC 3145 echo timeout", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscEchoTimeout, l2tp.DirectionGlobal)), false, accounting.CauseLostCarrier},
		{"RFC 3145 LCP timeout", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscLCPTimeout, l2tp.DirectionGlobal)), false, accounting.CauseLostCarrier},
		{"RFC 3145 looped back", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscLoopback, l2tp.DirectionGlobal)), false, accounting.CausePortError},
		{"RFC 3145 authentication failed", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscAuthFailed, l2tp.DirectionPeer)), false, accounting.CauseUserError},
		{"RFC 3145 no NCP", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscNoNCP, l2tp.DirectionGlobal)), false, accounting.CauseUserError},
		{"RFC 3145 no proxy LCP", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscNoProxyLCP, l2tp.DirectionGlobal)), false, accounting.CauseNASError},
		{"RFC 3145 no information leaves the Result Code", rc(l2tp.CDNAdmin), cdn(disc(l2tp.DiscNoInformation, l2tp.DirectionGlobal)), false, accounting.CauseAdminReset},
		{"Q.931 normal call clearing", rc(l2tp.CDNLostCarrier), cdn(l2tp.Q931Cause{Cause: 16}.AVP()), false, accounting.CauseUserRequest},
		{"Q.931 other cause leaves the Result Code", rc(l2tp.CDNLostCarrier), cdn(l2tp.Q931Cause{Cause: 17}.AVP()), false, accounting.CauseLostCarrier},
		{"StopCCN 1 general request", l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralRequest)}, nil, true, accounting.CauseLostService},
		{"StopCCN 2 general error", l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralError)}, nil, true, accounting.CauseLostService},
		{"StopCCN 6 requester shutting down", l2tp.ResultCode{Result: uint16(l2tp.StopCCNShuttingDown)}, nil, true, accounting.CauseAdminReboot},
		{"peer vanished", l2tp.ResultCode{Result: 2}, nil, true, accounting.CauseLostService},
		{"tunnel gone after a CDN", rc(l2tp.CDNAdmin), cdn(), true, accounting.CauseLostService},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := callDownCause(tc.rc, tc.cdn, tc.lostTunnel); got != tc.want {
				t.Errorf("cause %v, want %v", got, tc.want)
			}
		})
	}
}

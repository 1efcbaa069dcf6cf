package lns

import (
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// This file is the one table of why a session ended: every teardown of the
// LNS takes its Acct-Terminate-Cause (RFC 2866 section 5.10) from here, so
// the accounting Stop, the teardown metric and the log line agree.

// Teardowns the LNS starts itself.
const (
	// The API or bras disconnect: "Administrator reset the port or
	// session".
	causeAPIDisconnect = accounting.CauseAdminReset
	// A Disconnect-Request (RFC 5176) comes from the operator's RADIUS
	// server: an administrative reset too.
	causeCoADisconnect = accounting.CauseAdminReset
	// A graceful shutdown: "Administrator is ending service on the NAS,
	// for example prior to rebooting" (Admin-Reboot). NAS-Reboot is for a
	// crash, what the sessions left open by a killed LNS get at the next
	// start (accounting.Store.CloseOrphans).
	causeShutdown = accounting.CauseAdminReboot
	// The Session-Timeout and Idle-Timeout of RFC 2865 sections 5.27-28.
	causeSessionTimeout = accounting.CauseSessionTimeout
	causeIdleTimeout    = accounting.CauseIdleTimeout
	// RADIUS (or the users file) refused the subscriber's credentials.
	causeAuthRejected = accounting.CauseUserError
	// The LNS itself failed the session: no ICCN in time, the address
	// could not be bound, IPCP opened with another address.
	causeLocalError = accounting.CauseNASError
)

// pppCause is the cause of a PPP session that ended on its own (the call
// still up): ppp.Handler.Down's reason.
func pppCause(r ppp.Reason) accounting.TerminateCause {
	switch r {
	case ppp.ReasonPeerTerminate: // "for example with LCP Terminate"
		return accounting.CauseUserRequest
	case ppp.ReasonEchoTimeout: // the line is dead: no Echo-Reply
		return accounting.CauseLostCarrier
	case ppp.ReasonAuthFailed, ppp.ReasonNegotiationFailed:
		// The subscriber's side would not authenticate or converge
		// (Max-Configure, Max-Failure): "Input from user is in error".
		return accounting.CauseUserError
	case ppp.ReasonLoopback: // RFC 1661 section 6.4: a looped-back port
		return accounting.CausePortError
	}
	return accounting.CauseNASError
}

// cdnCauses maps the CDN Result Codes of RFC 2661 section 4.4.2, seen from
// the LNS (the LAC is the access half of the NAS), to RFC 2866's causes.
var cdnCauses = map[l2tp.CDNResult]accounting.TerminateCause{
	l2tp.CDNLostCarrier: accounting.CauseLostCarrier, // the subscriber's line went (PPPoE PADT, DSL down)
	// Result 2's reason is in the Error Code, and every Error Code of
	// section 4.4.2 is a protocol or resource error of the L2TP peer,
	// not of the subscriber's port: "NAS detected some error (other
	// than on the port)".
	l2tp.CDNGeneralError: accounting.CauseNASError,
	// "Call disconnected for administrative reasons": the LAC's
	// operator reset it, or the LAC is going down.
	l2tp.CDNAdmin: accounting.CauseAdminReset,
	// The LAC had no facilities (temporary or permanent) or no route to
	// the destination: "NAS was unable to provide requested service".
	l2tp.CDNNoFacilitiesTemporary: accounting.CauseServiceUnavailable,
	l2tp.CDNNoFacilitiesPermanent: accounting.CauseServiceUnavailable,
	l2tp.CDNInvalidDestination:    accounting.CauseServiceUnavailable,
	l2tp.CDNNoCarrier:             accounting.CauseLostCarrier,
	// Busy, no dial tone, no framing, set-up timed out: the access port
	// failed the call ("NAS detected an error on the port").
	l2tp.CDNBusy:       accounting.CausePortError,
	l2tp.CDNNoDialTone: accounting.CausePortError,
	l2tp.CDNTimeout:    accounting.CausePortError,
	l2tp.CDNNoFraming:  accounting.CausePortError,
}

// disconnectCauses maps the PPP Disconnect Codes of RFC 3145 section 3 to
// RFC 2866's causes. The LAC sends them when its PPP (proxy LCP) ended the
// session, and they say more than the CDN's Result Code. Codes missing
// here (0, no information) leave the Result Code's cause.
var disconnectCauses = map[l2tp.PPPDisconnectCode]accounting.TerminateCause{
	l2tp.DiscAdministrative: accounting.CauseAdminReset,
	l2tp.DiscNoProxyLCP:     accounting.CauseNASError, // the LAC and LNS disagree on proxy LCP
	l2tp.DiscNormal:         accounting.CauseUserRequest,
	l2tp.DiscLCPTimeout:     accounting.CauseLostCarrier, // TO-: the peer stopped answering
	l2tp.DiscNoLCP:          accounting.CausePortError,
	l2tp.DiscLoopback:       accounting.CausePortError,
	l2tp.DiscEchoTimeout:    accounting.CauseLostCarrier,
	// Negotiation and authentication failures of sections 3.1-3.4:
	// "Input from user is in error".
	l2tp.DiscEncryptionRefused:   accounting.CauseUserError,
	l2tp.DiscMPEndpoint:          accounting.CauseUserError,
	l2tp.DiscMPMRRU:              accounting.CauseUserError,
	l2tp.DiscMPShortSeq:          accounting.CauseUserError,
	l2tp.DiscCallbackRefused:     accounting.CauseUserError,
	l2tp.DiscAuthTimeout:         accounting.CauseUserError,
	l2tp.DiscMPAuthName:          accounting.CauseUserError,
	l2tp.DiscAuthUnacceptable:    accounting.CauseUserError,
	l2tp.DiscAuthFailed:          accounting.CauseUserError,
	l2tp.DiscNCPTimeout:          accounting.CauseUserError,
	l2tp.DiscNoNCP:               accounting.CauseUserError,
	l2tp.DiscNCPAddresses:        accounting.CauseUserError,
	l2tp.DiscNCPAddressForbidden: accounting.CauseUserError,
}

// q931NormalClearing is Q.931 cause 16, "normal call clearing": the
// subscriber hung up (RFC 2661 section 4.4.4 carries Q.931 causes in CDN).
const q931NormalClearing = 16

// cdnCause is the cause of a call the LAC disconnected with a CDN: from
// its PPP Disconnect Cause Code (RFC 3145) when it has one that says
// something, else its Q.931 Cause Code when that is a normal clearing,
// else its Result Code (RFC 2661 section 4.4.2).
func cdnCause(rc l2tp.ResultCode, cdn *l2tp.Message) accounting.TerminateCause {
	if d, ok := l2tp.FindPPPDisconnectCause(cdn); ok {
		if c, ok := disconnectCauses[d.Code]; ok {
			if d.Code == l2tp.DiscNormal && d.Direction == l2tp.DirectionLocal {
				// The LAC sent the Terminate-Request, not the
				// subscriber: "NAS ended session for a
				// non-error reason".
				return accounting.CauseNASRequest
			}
			return c
		}
	}
	if cdn != nil {
		if a, ok := cdn.Find(l2tp.AVPQ931Cause); ok {
			if q, err := l2tp.ParseQ931Cause(a.Value); err == nil && q.Cause == q931NormalClearing {
				return accounting.CauseUserRequest
			}
		}
	}
	if c, ok := cdnCauses[l2tp.CDNResult(rc.Result)]; ok {
		return c
	}
	return accounting.CauseLostCarrier // a call gone for no reason we know
}

// stopCCNCause is the cause of the sessions of a tunnel that went down:
// with the StopCCN's Result Code (RFC 2661 section 4.4.2), or result 2
// and no error when the peer vanished.
func stopCCNCause(rc l2tp.ResultCode) accounting.TerminateCause {
	if l2tp.StopCCNResult(rc.Result) == l2tp.StopCCNShuttingDown {
		// "Requester is being shut down": the LAC, the access half
		// of the NAS, is ending service, as RFC 2866's Admin-Reboot.
		return accounting.CauseAdminReboot
	}
	// Anything else cut the subscriber off from the LNS: "Service can
	// no longer be provided".
	return accounting.CauseLostService
}

// callDownCause is the cause of a call that the LAC ended or lost with its
// tunnel, as far as L2TP tells (the session may know better: see
// session.callDown).
func callDownCause(rc l2tp.ResultCode, cdn *l2tp.Message, lostTunnel bool) accounting.TerminateCause {
	if lostTunnel || cdn == nil {
		return stopCCNCause(rc)
	}
	return cdnCause(rc, cdn)
}

// cdnResult picks the CDN Result Code for a cause (RFC 2661 section
// 4.4.2), the other way round.
func cdnResult(cause accounting.TerminateCause, why string) l2tp.ResultCode {
	rc := l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), Message: why}
	switch cause {
	case accounting.CauseLostCarrier:
		rc.Result = uint16(l2tp.CDNLostCarrier)
	case accounting.CauseNASError, accounting.CausePortError:
		rc.Result = uint16(l2tp.CDNGeneralError)
	}
	return rc
}

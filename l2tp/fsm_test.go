package l2tp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The rows below are copied from the RFC 2661 section 7 tables in the RFC's
// own shape (a row may name several states or events); every cell they
// cover must give exactly that next state and those actions, and every cell
// they do not cover must be "unexpected" (or one of the rows marked beyond
// the table).

type ctrlRow struct {
	states []CtrlState
	events []CtrlEvent
	acts   []Action
	next   CtrlState
}

func TestCtrlFSMCellByCell(t *testing.T) {
	S, E, A := func(s ...CtrlState) []CtrlState { return s }, func(e ...CtrlEvent) []CtrlEvent { return e }, func(a ...Action) []Action { return a }
	rows := []ctrlRow{
		// section 7.2.1
		{S(CtrlIdle), E(CtrlOpen), A(ActSendSCCRQ), CtrlWaitCtlReply},
		{S(CtrlIdle), E(CtrlRecvSCCRQ), A(ActSendSCCRP), CtrlWaitCtlConn},
		{S(CtrlIdle), E(CtrlRecvSCCRQBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlIdle), E(CtrlRecvSCCRP, CtrlRecvSCCRPBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlIdle), E(CtrlRecvSCCCN, CtrlRecvSCCCNBad), A(ActCleanup), CtrlIdle},
		{S(CtrlWaitCtlReply), E(CtrlRecvSCCRP), A(ActSendSCCCN, ActTunnelOpen), CtrlEstablished},
		{S(CtrlWaitCtlReply), E(CtrlRecvSCCRPBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlWaitCtlReply), E(CtrlRecvSCCRQLoseTie), A(ActCleanup, ActRequeueSCCRQ), CtrlIdle},
		{S(CtrlWaitCtlReply), E(CtrlRecvSCCCN, CtrlRecvSCCCNBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlWaitCtlConn), E(CtrlRecvSCCCN), A(ActTunnelOpen), CtrlEstablished},
		{S(CtrlWaitCtlConn), E(CtrlRecvSCCCNBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlWaitCtlConn), E(CtrlRecvSCCRP, CtrlRecvSCCRPBad, CtrlRecvSCCRQ, CtrlRecvSCCRQBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlEstablished), E(CtrlOpen), A(ActTunnelOpen), CtrlEstablished},
		{S(CtrlEstablished), E(CtrlClose), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlEstablished), E(CtrlRecvSCCRQ, CtrlRecvSCCRQBad, CtrlRecvSCCRP, CtrlRecvSCCRPBad, CtrlRecvSCCCN, CtrlRecvSCCCNBad), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlIdle, CtrlWaitCtlReply, CtrlWaitCtlConn, CtrlEstablished), E(CtrlRecvStopCCN), A(ActCleanup), CtrlIdle},
		// beyond the table
		{S(CtrlWaitCtlReply, CtrlWaitCtlConn), E(CtrlClose), A(ActSendStopCCN, ActCleanup), CtrlIdle},
		{S(CtrlIdle), E(CtrlClose), A(ActCleanup), CtrlIdle},
		{S(CtrlWaitCtlReply), E(CtrlOpen), nil, CtrlWaitCtlReply},
		{S(CtrlWaitCtlConn), E(CtrlOpen), nil, CtrlWaitCtlConn},
	}
	covered := map[ctrlKey]bool{}
	for _, r := range rows {
		for _, s := range r.states {
			for _, e := range r.events {
				k := ctrlKey{s, e}
				if covered[k] {
					t.Fatalf("cell %v/%v listed twice", s, e)
				}
				covered[k] = true
				next, acts := ctrlTransition(s, e)
				if next != r.next || !cmp.Equal(r.acts, acts) {
					t.Errorf("%v + %v = %v %v, want %v %v", s, e, next, acts, r.next, r.acts)
				}
			}
		}
	}
	for s := CtrlIdle; s <= CtrlEstablished; s++ {
		for e := CtrlEvent(0); e < numCtrlEvents; e++ {
			if covered[ctrlKey{s, e}] {
				continue
			}
			next, acts := ctrlTransition(s, e)
			if next != s || !cmp.Equal([]Action{ActUnexpected}, acts) {
				t.Errorf("%v + %v is not in the RFC table but gives %v %v", s, e, next, acts)
			}
		}
	}
}

type callRow struct {
	states []CallState
	events []CallEvent
	acts   []Action
	next   CallState
}

func TestCallFSMCellByCell(t *testing.T) {
	S, E, A := func(s ...CallState) []CallState { return s }, func(e ...CallEvent) []CallEvent { return e }, func(a ...Action) []Action { return a }
	cdn := A(ActSendCDN, ActCleanup)
	cl := A(ActCleanup)
	icrq := E(CallRecvICRQ, CallRecvICRQBad)
	icrp := E(CallRecvICRP, CallRecvICRPBad)
	iccn := E(CallRecvICCN, CallRecvICCNBad)
	ocrq := E(CallRecvOCRQ, CallRecvOCRQBad)
	ocrp := E(CallRecvOCRP, CallRecvOCRPBad)
	cat := func(ls ...[]CallEvent) []CallEvent {
		var r []CallEvent
		for _, l := range ls {
			r = append(r, l...)
		}
		return r
	}
	tables := map[CallRole][]callRow{
		LACIncoming: { // section 7.4.1
			{S(CallIdle), E(CallOpen), A(ActOpenTunnel), CallWaitTunnel},
			{S(CallIdle), cat(iccn, icrp, E(CallRecvCDN)), cl, CallIdle},
			{S(CallWaitTunnel), E(CallClose), cl, CallIdle},
			{S(CallWaitTunnel), E(CallTunnelOpen), A(ActSendICRQ), CallWaitReply},
			{S(CallWaitReply), E(CallRecvICRP), A(ActSendICCN), CallEstablished},
			{S(CallWaitReply), E(CallRecvICRPBad), cdn, CallIdle},
			{S(CallWaitReply), icrq, cdn, CallIdle},
			{S(CallWaitReply), cat(E(CallRecvCDN), iccn), cl, CallIdle},
			{S(CallWaitReply), E(CallClose), cdn, CallIdle},
			{S(CallEstablished), E(CallRecvCDN), cl, CallIdle},
			{S(CallEstablished), cat(icrq, icrp, iccn), cdn, CallIdle},
			{S(CallEstablished), E(CallClose), cdn, CallIdle},
		},
		LNSIncoming: { // section 7.4.2
			{S(CallIdle), E(CallRecvICRQ), A(ActSendICRP), CallWaitConnect},
			{S(CallIdle), E(CallRecvICRQBad), cdn, CallIdle},
			{S(CallIdle), icrp, cdn, CallIdle},
			{S(CallIdle), iccn, cl, CallIdle},
			{S(CallWaitConnect), E(CallRecvICCN), A(ActPrepareData), CallEstablished},
			{S(CallWaitConnect), E(CallRecvICCNBad), cdn, CallIdle},
			{S(CallWaitConnect), cat(icrq, icrp), cdn, CallIdle},
			{S(CallIdle, CallWaitConnect, CallEstablished), E(CallRecvCDN), cl, CallIdle},
			{S(CallWaitConnect, CallEstablished), E(CallClose), cdn, CallIdle},
			{S(CallEstablished), cat(icrq, icrp, iccn), cdn, CallIdle},
		},
		LACOutgoing: { // section 7.5.1
			{S(CallIdle), E(CallRecvOCRQ), A(ActSendOCRP, ActOpenBearer), CallWaitCSAnswer},
			{S(CallIdle), E(CallRecvOCRQBad), cdn, CallIdle},
			{S(CallIdle), ocrp, cdn, CallIdle},
			{S(CallIdle), E(CallRecvOCCN, CallRecvCDN), cl, CallIdle},
			{S(CallWaitCSAnswer), E(CallBearerAnswer), A(ActSendOCCN), CallEstablished},
			{S(CallWaitCSAnswer), E(CallBearerFailure), cdn, CallIdle},
			{S(CallWaitCSAnswer), cat(ocrq, ocrp, E(CallRecvOCCN)), cdn, CallIdle},
			{S(CallEstablished), cat(ocrq, ocrp, E(CallRecvOCCN)), cdn, CallIdle},
			{S(CallWaitCSAnswer, CallEstablished), E(CallRecvCDN), cl, CallIdle},
			{S(CallEstablished), E(CallClose), cdn, CallIdle},
			// beyond the table
			{S(CallWaitCSAnswer), E(CallClose), cdn, CallIdle},
		},
		LNSOutgoing: { // section 7.5.2
			{S(CallIdle), E(CallOpen), A(ActOpenTunnel), CallWaitTunnel},
			{S(CallIdle), cat(E(CallRecvOCCN), ocrp, E(CallRecvCDN)), cl, CallIdle},
			{S(CallWaitTunnel), E(CallTunnelOpen), A(ActSendOCRQ), CallWaitReply},
			{S(CallWaitReply), E(CallRecvOCRP), nil, CallWaitConnect},
			{S(CallWaitReply), E(CallRecvOCRPBad), cdn, CallIdle},
			{S(CallWaitReply), cat(E(CallRecvOCCN), ocrq), cdn, CallIdle},
			{S(CallWaitConnect), E(CallRecvOCCN), A(ActPrepareData), CallEstablished},
			{S(CallWaitConnect), cat(ocrq, ocrp), cdn, CallIdle},
			{S(CallWaitReply, CallWaitConnect, CallEstablished), E(CallRecvCDN), cl, CallIdle},
			{S(CallEstablished), cat(ocrq, ocrp, E(CallRecvOCCN)), cdn, CallIdle},
			{S(CallWaitReply, CallWaitConnect, CallEstablished), E(CallClose), cdn, CallIdle},
			{S(CallWaitTunnel), E(CallClose), cl, CallIdle},
		},
	}
	for role, rows := range tables {
		t.Run(role.String(), func(t *testing.T) {
			covered := map[callKey]bool{}
			for _, r := range rows {
				for _, s := range r.states {
					for _, e := range r.events {
						k := callKey{s, e}
						if covered[k] {
							t.Fatalf("cell %v/%v listed twice", s, e)
						}
						covered[k] = true
						next, acts := callTransition(role, s, e)
						if next != r.next || !cmp.Equal(r.acts, acts) {
							t.Errorf("%v + %v = %v %v, want %v %v", s, e, next, acts, r.next, r.acts)
						}
					}
				}
			}
			for s := CallIdle; s <= CallEstablished; s++ {
				for e := CallEvent(0); e < numCallEvents; e++ {
					if covered[callKey{s, e}] {
						continue
					}
					next, acts := callTransition(role, s, e)
					if next != s || !cmp.Equal([]Action{ActUnexpected}, acts) {
						t.Errorf("%v + %v is not in the RFC table but gives %v %v", s, e, next, acts)
					}
				}
			}
		})
	}
}

func TestFSMStrings(t *testing.T) {
	for s := CtrlIdle; s <= CtrlEstablished+1; s++ {
		if s.String() == "" {
			t.Errorf("CtrlState %d has no name", s)
		}
	}
	for e := CallEvent(0); e <= numCallEvents; e++ {
		if e.String() == "" {
			t.Errorf("CallEvent %d has no name", e)
		}
	}
	if got := CallState(99).String(); got != "CallState(99)" {
		t.Errorf("unknown CallState = %q", got)
	}
}

package lac

import (
	"context"
	"time"

	"github.com/bras-project/bras/internal/linkwatch"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/l2tp"
)

// An access interface that loses its carrier (the DSLAM's uplink or the
// aggregation switch went down) takes every subscriber behind it: none of
// them can send a PADT, and their sessions would linger until the LNS's
// LCP keepalive gave up on each. The LAC clears them at once instead: a
// CDN to the LNS with Result Code 1, "call disconnected due to loss of
// carrier" (RFC 2661 section 4.4.2), whose message names the interface
// (the LNS accounts the Stop with Acct-Terminate-Cause Lost-Carrier, RFC
// 2866 section 5.10), and the PPPoE session released. One counter and one
// log line per port, not one per session.

// carrierCDN is the Result Code of the calls of an access interface
// that lost its carrier.
func carrierCDN(iface string) l2tp.ResultCode {
	return l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier), HasError: true, Message: "access interface " + iface + " lost carrier"}
}

// CarrierLost clears every session of a's interface, named iface: a
// call up gets a CDN with carrierCDN, a subscriber still negotiating or
// whose call is being placed is dropped. It returns at once (the shards
// clear the sessions); the sessions the interface held are counted and
// logged here, once.
func (a *Access) CarrierLost(iface string) {
	l := a.l
	n := a.sessions.Load()
	l.stats.CarrierLosses.Add(1)
	l.log.Warn("lac: access interface lost carrier; clearing its sessions", "interface", iface, "sessions", n)
	rc := carrierCDN(iface)
	for _, sh := range l.shards {
		sh.postDown(event{kind: evCarrierLost, acc: a, rc: rc})
	}
}

// carrierLost is evCarrierLost on the shard: it ends the shard's
// sessions of acc, each with a debug line only.
func (sh *shard) carrierLost(acc *Access, rc l2tp.ResultCode) {
	l := sh.l
	for s := range sh.sessions {
		if s.acc != acc || s.state == stDone {
			continue
		}
		if s.ls != nil {
			s.ls.Disconnect(rc)
		}
		l.stats.CarrierCleared.Add(1)
		l.log.Debug(logx.MsgSessionDown, append(s.logAttrs(), logx.KeyCause, rc.Message)...)
		s.release(rc.Message)
		sh.timers.Set(s, time.Time{})
	}
}

// watchCarrier follows the carrier of the access interfaces until ctx
// is done: a loss clears the interface's sessions, a return is logged.
func (d *daemon) watchCarrier(ctx context.Context) error {
	byName := map[string]*Access{}
	var names []string
	for i, a := range d.c.Access {
		byName[a.Interface] = d.access[i]
		names = append(names, a.Interface)
	}
	w, err := linkwatch.New(names) // the daemon's namespace
	if err != nil {
		return err
	}
	return w.Run(ctx, func(t linkwatch.Transition) {
		if !t.Up {
			byName[t.Name].CarrierLost(t.Name)
			return
		}
		d.log.Info("lac: access interface has its carrier again", "interface", t.Name)
	}, func(err error) {
		d.log.Warn("lac: watching the access interfaces' carrier", "err", err)
	})
}

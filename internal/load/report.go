package load

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/netip"
	"sort"
	"time"
)

// Report is the outcome of a run, written as JSON by `bras load`.
type Report struct {
	Sessions int `json:"sessions"` // subscribers configured
	Started  int `json:"started"`  // set-ups begun
	Up       int `json:"up"`       // reached IPCP up
	Failed   int `json:"failed"`   // never came up
	Dropped  int `json:"dropped"`  // came up, then went down unasked (PADT, LCP Terminate, echo timeout)
	// Failures and Drops count sessions per reason ("auth-failed",
	// "no-offer", "timeout", "padt", ...).
	Failures map[string]int `json:"failures"`
	Drops    map[string]int `json:"drops"`
	// SetupSeconds runs from the first PADI to the last set-up resolved;
	// SetupRate is Up / SetupSeconds.
	SetupSeconds float64 `json:"setup_seconds"`
	SetupRate    float64 `json:"setup_rate"`
	// Stages are the set-up latencies of the sessions that came up.
	Stages Stages `json:"stages"`
	// IPv6 is present when the subscribers ran IPv6 (Config.IPv6).
	IPv6 *IPv6Report `json:"ipv6,omitempty"`
	// Traffic is present when traffic was configured.
	Traffic *TrafficReport `json:"traffic,omitempty"`
	// InboxDrops counts PPP control frames dropped because a worker's
	// inbox was full (the PPP restart timer recovers them).
	InboxDrops uint64 `json:"inbox_drops"`
	// PPPoE are the client's counters of frames it could not use.
	PPPoE PPPoECounters `json:"pppoe"`
	// CarrierLosses counts the times an interface of the subscribers
	// lost its carrier.
	CarrierLosses uint64 `json:"carrier_losses"`
	// Reconnect is present with Config.Redial.
	Reconnect *ReconnectReport `json:"reconnect,omitempty"`
}

// ReconnectReport is what the subscribers did after their sessions ended
// (Config.Redial).
type ReconnectReport struct {
	// Drops counts the sessions that ended and were dialled again, by
	// reason ("carrier", "padt", "peer-terminate", ...); Reconnected those
	// of them up again at the end, Waiting those that were not.
	Drops       map[string]int `json:"drops"`
	Reconnected int            `json:"reconnected"`
	Waiting     int            `json:"waiting"`
	// Attempts counts the discoveries begun again; Failures the attempts
	// that did not come up, by reason.
	Attempts int            `json:"attempts"`
	Failures map[string]int `json:"failures"`
	// LinkDownAt is the first carrier loss and LinkUpAt the last carrier
	// return, LastUpAt the last session up again, in seconds from the
	// start of the run (0: none). Seconds runs from the carrier's return
	// (or, without one, from the first drop) to the last session up
	// again, and Rate is Reconnected / Seconds.
	LinkDownAt float64 `json:"link_down_at"`
	LinkUpAt   float64 `json:"link_up_at"`
	LastUpAt   float64 `json:"last_up_at"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"`
	// Setup is PADI → IPCP up of the attempt that brought each session
	// back.
	Setup Latency `json:"setup"`
}

// PPPoECounters are the PPPoE client's drop counters.
type PPPoECounters struct {
	Malformed uint64 `json:"malformed"` // undecodable frames
	Ignored   uint64 `json:"ignored"`   // discovery packets for no dial under way
	Unknown   uint64 `json:"unknown"`   // session frames or PADTs for no session
}

// Stages are the set-up latencies per stage.
type Stages struct {
	Discovery Latency `json:"padi_pads"` // PADI sent → PADS received (RFC 2516 section 5)
	LCP       Latency `json:"lcp"`       // PADS → LCP Opened (RFC 1661)
	Auth      Latency `json:"auth"`      // LCP Opened → Network phase (PAP RFC 1334, CHAP RFC 1994)
	IPCP      Latency `json:"ipcp"`      // Network phase → IPCP Opened (RFC 1332)
	Total     Latency `json:"total"`     // PADI → IPCP Opened
}

// IPv6Report is the outcome of the IPv6 set-ups of the sessions that came
// up.
type IPv6Report struct {
	// Up got a SLAAC prefix from a Router Advertisement and a delegated
	// prefix from DHCPv6; Failed gave up, per reason in Failures
	// ("ipv6cp-refused", "no-ipv6cp", "no-ra", "no-dhcpv6", "down",
	// "stopped").
	Up       int            `json:"up"`
	Failed   int            `json:"failed"`
	Failures map[string]int `json:"failures"`
	// Setup runs from IPV6CP opened to both prefixes there.
	Setup Latency `json:"setup"`
	// Ignored counts IPv6 control packets from the LNS the clients could
	// not use; Foreign the other IPv6 packets that were not probe echoes.
	Ignored uint64 `json:"ignored"`
	Foreign uint64 `json:"foreign"`
}

// FamilyTraffic accounts for the probes of one IP version.
type FamilyTraffic struct {
	Target     string  `json:"target"`
	Size       int     `json:"size"` // IP packet octets
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	LossRatio  float64 `json:"loss_ratio"`
	Reordered  uint64  `json:"reordered"`
	Duplicated uint64  `json:"duplicated"`
	// SentOctets and ReceivedOctets are the IP packets' octets.
	SentOctets     uint64  `json:"sent_octets"`
	ReceivedOctets uint64  `json:"received_octets"`
	RTT            Latency `json:"rtt"`
}

func newFamilyTraffic(target netip.AddrPort, size int, sent, received, reordered, duplicated, sentOctets, receivedOctets uint64, rtt Latency) *FamilyTraffic {
	f := &FamilyTraffic{Target: target.String(), Size: size, Sent: sent, Received: received, Reordered: reordered,
		Duplicated: duplicated, SentOctets: sentOctets, ReceivedOctets: receivedOctets, RTT: rtt}
	if sent > received {
		f.Lost = sent - received
	}
	if sent > 0 {
		f.LossRatio = float64(f.Lost) / float64(sent)
	}
	return f
}

// TrafficReport accounts for the UDP probes: the fields at the top are
// the IPv4 probes' (as before there was IPv6); IPv4 and IPv6 have each
// family's figures.
type TrafficReport struct {
	Target   string  `json:"target"`
	Size     int     `json:"size"` // IPv4 packet octets
	PPS      float64 `json:"pps_per_session,omitempty"`
	TotalPPS float64 `json:"pps_total,omitempty"`
	Flood    bool    `json:"flood"`
	// Sent and Received count probes; Received counts each sequence number
	// once. Lost = Sent - Received.
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	LossRatio  float64 `json:"loss_ratio"`
	Reordered  uint64  `json:"reordered"`
	Duplicated uint64  `json:"duplicated"`
	// Foreign counts IPv4 packets on the sessions that were not probes.
	Foreign uint64 `json:"foreign"`
	// SentOctets and ReceivedOctets are the IPv4 probes' octets.
	SentOctets     uint64 `json:"sent_octets"`
	ReceivedOctets uint64 `json:"received_octets"`
	// IPv4 and IPv6 are the figures per family, present when the family
	// had a target.
	IPv4 *FamilyTraffic `json:"ipv4,omitempty"`
	IPv6 *FamilyTraffic `json:"ipv6,omitempty"`
	// Upstream is what the echo server said it received (QueryUpstream),
	// from the sessions that answered; UpstreamLost and DownstreamLost
	// split the loss of those sessions per direction.
	Upstream *Direction `json:"upstream,omitempty"`
	RTT      Latency    `json:"rtt"`
	// DeliveredPerSecond is the probes echoed back in each whole second
	// after the first probe was sent.
	DeliveredPerSecond []uint64 `json:"delivered_per_second"`
	Seconds            float64  `json:"seconds"`
	SentPPS            float64  `json:"sent_pps"`
	DeliveredPPS       float64  `json:"delivered_pps"`
}

// Direction splits the loss of the sessions whose echo-server counts are
// known.
type Direction struct {
	Sessions       int    `json:"sessions"`        // sessions with a known count
	Sent           uint64 `json:"sent"`            // probes those sessions sent
	ServerReceived uint64 `json:"server_received"` // probes the echo server got
	Received       uint64 `json:"received"`        // echoes those sessions got
	UpstreamLost   int64  `json:"upstream_lost"`   // Sent - ServerReceived
	DownstreamLost int64  `json:"downstream_lost"` // ServerReceived - Received
}

// Report returns the report, once Stop has returned (nil before).
func (l *Load) Report() *Report { return l.report.Load() }

func (l *Load) makeReport() *Report {
	r := &Report{Sessions: len(l.subs), Failures: map[string]int{}, Drops: map[string]int{}, InboxDrops: l.inboxDrops.Load()}
	var disc, lcp, auth, ipcp, total, again []time.Duration
	var first time.Time
	rc := &ReconnectReport{}
	for _, s := range l.subs {
		if s.attempt == 0 && !s.t0.IsZero() && (first.IsZero() || s.t0.Before(first)) {
			first = s.t0
		}
		switch s.state {
		case stateFailed:
			r.Failures[s.reason]++
		case stateDropped:
			r.Drops[s.reason]++
		}
		if f := s.first; f != nil {
			// Redialled: its first set-up's latencies were kept.
			disc, lcp, auth, ipcp, total = append(disc, f.disc), append(lcp, f.lcp), append(auth, f.auth), append(ipcp, f.ipcp), append(total, f.total)
			if s.state == stateUp || s.state == stateClosed && !s.tUp.IsZero() {
				rc.Reconnected++
				again = append(again, s.tUp.Sub(s.t0))
			} else {
				rc.Waiting++
			}
			continue
		}
		if s.tUp.IsZero() {
			continue
		}
		disc = append(disc, s.tPADS.Sub(s.t0))
		lcp = append(lcp, s.tLCP.Sub(s.tPADS))
		auth = append(auth, s.tAuth.Sub(s.tLCP))
		ipcp = append(ipcp, s.tUp.Sub(s.tAuth))
		total = append(total, s.tUp.Sub(s.t0))
	}
	r.CarrierLosses = l.carrierLosses.Load()
	if rd := l.redial; rd != nil {
		rd.mu.Lock()
		rc.Drops, rc.Failures, rc.Attempts = maps.Clone(rd.drops), maps.Clone(rd.failures), rd.attempts
		since := func(t time.Time) float64 {
			if t.IsZero() {
				return 0
			}
			return t.Sub(l.start).Seconds()
		}
		rc.LinkDownAt, rc.LinkUpAt, rc.LastUpAt = since(rd.linkDown), since(rd.linkUp), since(rd.lastUp)
		from := rc.LinkUpAt
		if from == 0 {
			from = rc.firstDrop(l)
		}
		if rc.LastUpAt > from && rc.Reconnected > 0 {
			rc.Seconds = rc.LastUpAt - from
			rc.Rate = float64(rc.Reconnected) / rc.Seconds
		}
		rd.mu.Unlock()
		rc.Setup = Summarize(again)
		r.Reconnect = rc
	}
	for _, c := range l.clients {
		r.PPPoE.Malformed += c.Malformed.Load()
		r.PPPoE.Ignored += c.Ignored.Load()
		r.PPPoE.Unknown += c.Unknown.Load()
	}
	st := l.Stats()
	r.Started, r.Up, r.Failed, r.Dropped = st.Started, st.EverUp, st.Failed, st.Dropped
	if end := l.setupEnd.Load(); end != 0 && !first.IsZero() {
		r.SetupSeconds = time.Unix(0, end).Sub(first).Seconds()
		if r.SetupSeconds > 0 {
			r.SetupRate = float64(r.Up) / r.SetupSeconds
		}
	}
	r.Stages = Stages{Discovery: Summarize(disc), LCP: Summarize(lcp), Auth: Summarize(auth), IPCP: Summarize(ipcp), Total: Summarize(total)}
	if l.cfg.IPv6 {
		v := &IPv6Report{Failures: map[string]int{}, Ignored: l.ignored6.Load(), Foreign: l.foreign6.Load()}
		var setup []time.Duration
		for _, s := range l.subs {
			switch s.v6 {
			case v6Ready:
				v.Up++
				setup = append(setup, s.tV6Up.Sub(s.tV6))
			case v6Failed:
				v.Failed++
				v.Failures[s.v6Reason]++
			}
			if s.c6 != nil {
				v.Ignored += s.c6.ignored
			}
		}
		v.Setup = Summarize(setup)
		r.IPv6 = v
	}
	tc := l.cfg.Traffic
	if !tc.enabled() {
		return r
	}
	tr := &TrafficReport{Size: tc.Size, Flood: tc.Flood,
		Sent: st.Sent, Received: st.Received, Reordered: st.Reordered, Duplicated: st.Duplicated,
		Foreign: l.foreign.Load(), RTT: l.rtt.summary(),
		SentOctets: l.sentOctets.Load(), ReceivedOctets: l.receivedOctets.Load()}
	if tc.Target.IsValid() {
		tr.Target = tc.Target.String()
		tr.IPv4 = newFamilyTraffic(tc.Target, tc.Size, st.Sent, st.Received, st.Reordered, st.Duplicated,
			tr.SentOctets, tr.ReceivedOctets, tr.RTT)
	}
	if tc.Target6.IsValid() {
		tr.IPv6 = newFamilyTraffic(tc.Target6, tc.Size+ipv6HeaderLen-ipv4HeaderLen, st.Sent6, st.Received6, st.Reordered6,
			st.Duplicated6, l.sentOctets6.Load(), l.recvOctets6.Load(), l.rtt6.summary())
	}
	if !tc.Flood {
		tr.PPS, tr.TotalPPS = tc.PPS, tc.TotalPPS
	}
	if tr.Sent > tr.Received {
		tr.Lost = tr.Sent - tr.Received
	}
	if tr.Sent > 0 {
		tr.LossRatio = float64(tr.Lost) / float64(tr.Sent)
	}
	l.traffic.mu.Lock()
	if !l.traffic.first.IsZero() {
		tr.Seconds = l.traffic.end.Sub(l.traffic.first).Seconds()
	}
	tr.DeliveredPerSecond = append([]uint64{}, l.traffic.perSecond...)
	l.traffic.mu.Unlock()
	if tr.Seconds > 0 {
		tr.SentPPS = float64(tr.Sent) / tr.Seconds
		tr.DeliveredPPS = float64(tr.Received) / tr.Seconds
	}
	if tc.QueryUpstream {
		d := &Direction{}
		for _, s := range l.subs {
			if n := s.upstream.Load(); n >= 0 {
				d.Sessions++
				d.Sent += s.txSeq
				d.ServerReceived += uint64(n)
				d.Received += s.rx.Received
			}
		}
		d.UpstreamLost = int64(d.Sent) - int64(d.ServerReceived)
		d.DownstreamLost = int64(d.ServerReceived) - int64(d.Received)
		tr.Upstream = d
	}
	r.Traffic = tr
	return r
}

// firstDrop stands for the start of the reconnection when no carrier
// return was seen: the earliest start of an attempt after a drop, in
// seconds from the start of the run.
func (rc *ReconnectReport) firstDrop(l *Load) float64 {
	var first time.Time
	for _, s := range l.subs {
		if s.first != nil && !s.t0.IsZero() && (first.IsZero() || s.t0.Before(first)) {
			first = s.t0
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.Sub(l.start).Seconds()
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// FailureReasons lists the failure reasons, most frequent first.
func (r *Report) FailureReasons() []string {
	var out []string
	for k := range r.Failures {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return r.Failures[out[i]] > r.Failures[out[j]] })
	return out
}

// RunConfig adds the run's shape to a Config for Run.
type RunConfig struct {
	// Hold keeps the sessions up (with their traffic) this long after
	// every set-up is done; a negative Hold keeps them up until ctx ends.
	Hold time.Duration
	// Progress, when set, gets a Stats snapshot every second.
	Progress func(Stats)
}

// Run brings the subscribers up, holds them (traffic running), closes
// them with PADTs and returns the report. Canceling ctx ends the run
// early; the report is still returned.
func Run(ctx context.Context, cfg Config, rc RunConfig) (*Report, error) {
	l, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var ticks <-chan time.Time
	if rc.Progress != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		ticks = t.C
	}
	var hold <-chan time.Time
	setup := l.SetupDone()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-setup:
			setup = nil
			if rc.Hold >= 0 {
				t := time.NewTimer(rc.Hold)
				defer t.Stop()
				hold = t.C
			}
		case <-hold:
			break loop
		case <-ticks:
			rc.Progress(l.Stats())
		}
	}
	err = l.Stop()
	if rc.Progress != nil {
		rc.Progress(l.Stats())
	}
	return l.Report(), err
}

package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/jackc/pgx/v5"
)

// The mass reconnect of issue 13: every subscriber up, then the access
// links go down (a DSLAM's uplink lost) for a few seconds and come back.
// The LAC clears the sessions of a port that lost its carrier, the
// subscribers (bras load -redial, as CPEs) dial again once their line is
// back, and the benchmark measures how long it takes until every one is
// up again, the set-up rate meanwhile, whether RADIUS and PostgreSQL were
// kept within their limits, and whether the accounting lost anything.

// ReconnectOptions say what BenchReconnect runs.
type ReconnectOptions struct {
	Options
	// Down is how long the access links stay down (default 5 s).
	Down time.Duration
	// InFlight caps the set-ups under way of bras load, first and again
	// (default 200).
	InFlight int
	// Wait bounds each of the waits: all up, all up again, the accounting
	// written (default 10 min).
	Wait time.Duration
}

// ReconnectBench is what BenchReconnect measured.
type ReconnectBench struct {
	Subscribers int
	Down        time.Duration
	// FirstUp is when every first set-up was up, from the start of bras
	// load; BackUp when every subscriber was up again, from the links'
	// return (both from bras load's progress lines, one-second
	// resolution; zero when it never happened). UpBefore and UpAfter are
	// the sessions up before the links went down and at the end.
	FirstUp, BackUp   time.Duration
	UpBefore, UpAfter int
	// Load is bras load's report: Reconnect has the reconnection's
	// figures as the subscribers saw them (drops, attempts, PADI → IPCP
	// of the reconnects, the time from the links' return to the last
	// session up again, the rate).
	Load load.Report
	// CPU is the CPU time of each part from the links going down to every
	// subscriber up again, largest first.
	CPU []ProcCPU
	// The daemons' counters over the reconnect (after minus before).
	LACCarrierLosses, LACCarrierCleared int64
	LACPADIRateLimited                  int64
	LACRefused, LACCallTimeouts         int64
	LNSAuthRequests, LNSAuthTimeouts    int64
	LNSAcctRequests, LNSAcctTimeouts    int64
	LNSSessionsRefused                  int64
	// AcctUndelivered is the accounting Starts and Stops the LNS spooled
	// for a sink (PostgreSQL, RADIUS accounting) and the sink has not
	// taken yet, when the accounting was counted (0: drained);
	// SpoolBytes the spool's bytes then, Interim-Updates included (with
	// the lab's Acct-Interim-Interval of 60 s some are always on their
	// way).
	AcctUndelivered int64
	SpoolBytes      int64
	// From PostgreSQL once every subscriber was up again: the sessions
	// recorded, those closed by cause, those open.
	DBSessions, DBOpen int
	DBCauses           map[string]int
	LoadAvg            string
}

// DBStopped is the number of closed sessions in PostgreSQL.
func (b *ReconnectBench) DBStopped() int {
	n := 0
	for _, v := range b.DBCauses {
		n += v
	}
	return n
}

// BenchReconnect sets the lab up for o.Subscribers, brings them all up
// with bras load -redial, sets the subscribers' ends of the access links
// down for o.Down (the LAC sees its ports lose their carrier) and up
// again, and waits until every subscriber is up again; then it reads the
// accounting in PostgreSQL, and ends bras load.
func BenchReconnect(ctx context.Context, o ReconnectOptions) (*ReconnectBench, error) {
	if o.Down <= 0 {
		o.Down = 5 * time.Second
	}
	if o.InFlight <= 0 {
		o.InFlight = 200
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Minute
	}
	env, err := Setup(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	n := env.Opts.Subscribers
	res := &ReconnectBench{Subscribers: n, Down: o.Down, LoadAvg: loadAvg()}
	procs, err := env.chainProcs()
	if err != nil {
		return nil, err
	}
	ifaces := subIfaces(n)
	report := filepath.Join(env.Dir, "load.json")
	cmd := env.NS["sub"].Command(env.Opts.Bras, "load", "-iface", strings.Join(ifaces, ","), "-n", fmt.Sprint(n),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed", "-inflight", fmt.Sprint(o.InFlight),
		"-redial", "-hold", "-1s", "-setup-timeout", "60s", "-json", report, "-max-failed", fmt.Sprint(2*n))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	procs["bras load"] = []int{cmd.Process.Pid}
	exited := make(chan error, 1)
	progress := make(chan map[string]int, 16)
	var tail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if tail = append(tail, line); len(tail) > 20 {
				tail = tail[1:]
			}
			if p, ok := parseProgress(line); ok {
				select {
				case progress <- p:
				default: // only the latest matters
				}
			}
		}
		exited <- cmd.Wait()
	}()
	stopLoad := func() error {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
		b, err := os.ReadFile(report)
		if err != nil {
			return fmt.Errorf("lab: bras load wrote no report: %w\n%s", err, strings.Join(tail, "\n"))
		}
		return json.Unmarshal(b, &res.Load)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	// waitUp waits for a progress line with every subscriber up (and, after
	// the links' return, none waiting to dial again).
	waitUp := func(what string, again bool) (bool, error) {
		deadline := time.After(o.Wait)
		for {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case err := <-exited:
				exited <- err
				return false, fmt.Errorf("lab: bras load ended %s: %v\n%s", what, err, strings.Join(tail, "\n"))
			case <-deadline:
				env.say("not every subscriber %s after %v", what, o.Wait)
				return false, nil
			case p := <-progress:
				if again {
					res.UpAfter = p["up"]
				} else {
					res.UpBefore = p["up"]
				}
				if p["up"] >= n && (!again || p["redial"] == 0 && p["in-flight"] == 0) {
					return true, nil
				}
				if !again && p["up"]+p["failed"] >= n && p["in-flight"] == 0 {
					return false, nil // the first set-ups are over, not all up
				}
			}
		}
	}
	env.say("bras load -redial: %d subscribers on %s, in-flight cap %d", n, strings.Join(ifaces, ", "), o.InFlight)
	ok, err := waitUp("came up", false)
	if err != nil {
		return nil, err
	}
	res.FirstUp = time.Since(start)
	if ok {
		env.say("all %d up after %.1f s; the access links go down for %v", n, res.FirstUp.Seconds(), o.Down)
	} else {
		// Measured all the same: CheckReconnect names the shortfall.
		env.say("%d of %d up after %.1f s; the access links go down for %v", res.UpBefore, n, res.FirstUp.Seconds(), o.Down)
	}

	before, err := env.reconnectCounters()
	if err != nil {
		return nil, err
	}
	cpu0 := sampleCPU(procs)
	for _, ifc := range ifaces {
		if _, err := env.NS["sub"].Run("ip", "link", "set", ifc, "down"); err != nil {
			return nil, err
		}
	}
	time.Sleep(o.Down)
	for _, ifc := range ifaces {
		if _, err := env.NS["sub"].Run("ip", "link", "set", ifc, "up"); err != nil {
			return nil, err
		}
	}
	linkUp := time.Now()
	env.say("access links up again")
	ok, err = waitUp("up again", true)
	if err != nil {
		return nil, err
	}
	if ok {
		res.BackUp = time.Since(linkUp)
		env.say("all %d up again %.1f s after the links came back", n, res.BackUp.Seconds())
	}
	cpu1 := sampleCPU(procs)
	for name, s := range cpu1 {
		res.CPU = append(res.CPU, ProcCPU{Name: name, Seconds: s - cpu0[name]})
	}
	sort.Slice(res.CPU, func(i, j int) bool { return res.CPU[i].Seconds > res.CPU[j].Seconds })

	// The accounting: every first session stopped, every second one
	// started, and the RADIUS spool drained. The LNS writes behind.
	deadline := time.Now().Add(min(o.Wait, 2*time.Minute))
	for {
		if err := env.reconnectDB(ctx, res); err != nil {
			return nil, err
		}
		m, err := env.Metrics("lns")
		if err == nil {
			res.SpoolBytes = int64(metricSum(m, metrics.SpoolBytes))
			res.AcctUndelivered = acctUndelivered(m)
		}
		if res.DBSessions >= 2*n && res.DBOpen <= n && res.AcctUndelivered == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	after, err := env.reconnectCounters()
	if err != nil {
		return nil, err
	}
	res.LACCarrierLosses = after.LACCarrierLosses - before.LACCarrierLosses
	res.LACCarrierCleared = after.LACCarrierCleared - before.LACCarrierCleared
	res.LACPADIRateLimited = after.LACPADIRateLimited - before.LACPADIRateLimited
	res.LACRefused = after.LACRefused - before.LACRefused
	res.LACCallTimeouts = after.LACCallTimeouts - before.LACCallTimeouts
	res.LNSAuthRequests = after.LNSAuthRequests - before.LNSAuthRequests
	res.LNSAuthTimeouts = after.LNSAuthTimeouts - before.LNSAuthTimeouts
	res.LNSAcctRequests = after.LNSAcctRequests - before.LNSAcctRequests
	res.LNSAcctTimeouts = after.LNSAcctTimeouts - before.LNSAcctTimeouts
	res.LNSSessionsRefused = after.LNSSessionsRefused - before.LNSSessionsRefused
	if err := stopLoad(); err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("lab: %d of %d subscribers up again after %v", res.UpAfter, n, o.Wait)
	}
	return res, nil
}

// acctUndelivered is the Starts and Stops spooled and not yet delivered,
// over the LNS's accounting sinks, from its /metrics.
func acctUndelivered(text string) int64 {
	var n float64
	for _, sink := range []string{"postgres", "radius"} {
		for _, kind := range []string{"start", "stop"} {
			t, s := `type="`+kind+`"`, `sink="`+sink+`"`
			n += metricSum(text, metrics.AccountingRecords, t, s, `result="spooled"`) - metricSum(text, metrics.AccountingRecords, t, s, `result="delivered"`)
		}
	}
	return int64(n)
}

// reconnectCounters reads the counters BenchReconnect reports from the
// daemons' /metrics.
func (e *Env) reconnectCounters() (*ReconnectBench, error) {
	lac, err := e.Metrics("lac")
	if err != nil {
		return nil, err
	}
	lns, err := e.Metrics("lns")
	if err != nil {
		return nil, err
	}
	c := &ReconnectBench{
		LACCarrierLosses:   int64(metricSum(lac, metrics.LACCarrierLosses)),
		LACCarrierCleared:  int64(metricSum(lac, metrics.LACTeardowns, `cause="carrier_lost"`)),
		LACPADIRateLimited: int64(metricSum(lac, metrics.PPPoEDiscoveryRefused, `reason="padi_rate_limit"`)),
		LACRefused:         int64(metricSum(lac, metrics.LACCalls, `result="refused"`)),
		LACCallTimeouts:    int64(metricSum(lac, metrics.LACCalls, `result="timeout"`)),
		LNSAuthRequests:    int64(metricSum(lns, metrics.RadiusRequests, `type="access"`)),
		LNSAuthTimeouts:    int64(metricSum(lns, metrics.RadiusTimeouts, `type="access"`)),
		LNSAcctRequests:    int64(metricSum(lns, metrics.RadiusRequests, `type="accounting"`)),
		LNSAcctTimeouts:    int64(metricSum(lns, metrics.RadiusTimeouts, `type="accounting"`)),
		LNSSessionsRefused: int64(metricSum(lns, metrics.SessionSetups, `result="refused"`)),
	}
	return c, nil
}

// reconnectDB counts the sessions in PostgreSQL: rows, open, closed by
// cause.
func (e *Env) reconnectDB(ctx context.Context, res *ReconnectBench) error {
	if err := func() error {
		c, err := pgx.Connect(ctx, e.DSN)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE stop_time IS NULL) FROM sessions`).Scan(&res.DBSessions, &res.DBOpen)
	}(); err != nil {
		return fmt.Errorf("lab: accounting: %w", err)
	}
	causes, err := dbCauses(ctx, e.DSN)
	if err != nil {
		return fmt.Errorf("lab: accounting: %w", err)
	}
	res.DBCauses = causes
	return nil
}

// parseProgress reads the counters of a bras load progress line
// ("  12.0s started 200 in-flight 0 up 200 failed 0 dropped 0 tx 0 rx 0
// reconnected 0 redial 0 carrier-losses 0 rate 0/s").
func parseProgress(line string) (map[string]int, bool) {
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasSuffix(f[0], "s") || f[1] != "started" {
		return nil, false
	}
	p := map[string]int{}
	for i := 1; i+1 < len(f) && f[i] != "ipv6"; i += 2 {
		if f[i] == "rate" {
			break
		}
		v, err := strconv.Atoi(f[i+1])
		if err != nil {
			return nil, false
		}
		p[f[i]] = v
	}
	for _, k := range []string{"started", "in-flight", "up", "failed", "dropped"} {
		if _, ok := p[k]; !ok {
			return nil, false
		}
	}
	return p, true
}

// metricSum adds up the samples of the metric name in a /metrics text
// whose labels contain every one of labels (`key="value"`).
func metricSum(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		set, val := "", rest
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			set, val = rest[:end+1], rest[end+1:]
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(set, l) {
				match = false
			}
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); match && err == nil {
			sum += v
		}
	}
	return sum
}

var errNoReconnect = errors.New("lab: no reconnect report")

// CheckReconnect lists what a reconnect run got wrong: a subscriber not
// up again, accounting rows missing or left open, causes other than loss
// of carrier, the spool not drained, RADIUS timeouts, sessions the LAC or
// the LNS refused.
func CheckReconnect(b *ReconnectBench) []string {
	var p []string
	n := b.Subscribers
	if b.UpBefore != n {
		p = append(p, fmt.Sprintf("%d of %d subscribers up before the links went down", b.UpBefore, n))
	}
	if b.BackUp == 0 || b.UpAfter != n {
		p = append(p, fmt.Sprintf("%d of %d subscribers up again", b.UpAfter, n))
	}
	rc := b.Load.Reconnect
	if rc == nil {
		return append(p, errNoReconnect.Error())
	}
	if rc.Reconnected != n || rc.Drops["carrier"] != n {
		p = append(p, fmt.Sprintf("bras load: %d of %d reconnected, drops %v", rc.Reconnected, n, rc.Drops))
	}
	if b.LACCarrierLosses != int64(len(subIfaces(n))) || b.LACCarrierCleared != int64(n) {
		p = append(p, fmt.Sprintf("LAC: %d carrier losses (want %d), %d sessions cleared (want %d)", b.LACCarrierLosses, len(subIfaces(n)), b.LACCarrierCleared, n))
	}
	if b.DBSessions != 2*n || b.DBOpen != n || b.DBCauses["Lost-Carrier"] != n || b.DBStopped() != n {
		p = append(p, fmt.Sprintf("PostgreSQL: %d sessions (want %d), %d open (want %d), closed by cause %v (want %d Lost-Carrier)",
			b.DBSessions, 2*n, b.DBOpen, n, b.DBCauses, n))
	}
	if b.AcctUndelivered != 0 {
		p = append(p, fmt.Sprintf("%d accounting Starts and Stops not delivered (spool %d bytes)", b.AcctUndelivered, b.SpoolBytes))
	}
	if b.LNSAuthTimeouts != 0 || b.LNSAcctTimeouts != 0 {
		p = append(p, fmt.Sprintf("RADIUS timeouts: %d access, %d accounting", b.LNSAuthTimeouts, b.LNSAcctTimeouts))
	}
	return p
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/lab"
	"github.com/bras-project/bras/internal/load"
)

func init() {
	register("bench", "whole-chain benchmarks in the lab: set-up rate, memory per session, forwarding vs the kernel, fault soak", func(ctx context.Context, args []string) error {
		return runBench(ctx, args, os.Stdout)
	})
}

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, `usage: bras bench setup|memory|reconnect|forward|soak [flags]   (bras bench <what> -h for the flags)

  setup    bring N subscribers up through LAC and LNS with FreeRADIUS and PostgreSQL:
           sessions/s, p50/p99 PADI → IPCP up, CPU per process
  memory   the same run, reported as LNS and LAC RSS growth per session
  reconnect  N subscribers up (bras load -redial, as CPEs), then the access links down
           for -down and up again: every subscriber up again, the time from the links'
           return to the last session up, the set-up rate and PADI → IPCP meanwhile, the
           LNS's RADIUS and the LAC's PADI rate-limit counters, and the accounting in
           PostgreSQL (2N sessions: N closed with Lost-Carrier, N open; spool drained)
  forward  packets/s through one subscriber session (sub → LAC → LNS → upstream and
           back) next to plain kernel routing over the same number of hops, with a
           NIC-like generator (BPF_PROG_TEST_RUN live frames) and an XDP sink;
           -ipv6: IPv6 packets both ways; -iperf: iperf3 over a bras load TUN session instead
  soak     N subscribers churning (connect, traffic, hang up) for -d while PostgreSQL
           stops, FreeRADIUS goes silent, the LNS is killed (-9) and started again
           and the L2TP link goes down: accounting lost and doubled, sessions left
           half-open, goroutines and RSS against the baseline, unclean refusals
`)
		return errors.New("no benchmark named")
	}
	what, args := args[0], args[1:]
	fs := flag.NewFlagSet("bras bench "+what, flag.ContinueOnError)
	var (
		o        lab.Options
		inflight int
		hold     time.Duration
		sizes    string
		dur      time.Duration
		reverse  bool
		verbose  bool
		noEcho   bool
		iperf    bool
		ipv6     bool
		rounds   int
		asJSON   bool
		so       lab.SoakOptions
		versions string
		encap    string
		ro       lab.ReconnectOptions
	)
	fs.StringVar(&o.Mode, "mode", "proxy", "LAC mode: proxy or transparent")
	fs.BoolVar(&o.Keep, "keep-logs", false, "keep the daemons' logs")
	fs.BoolVar(&verbose, "v", false, "print the lab's progress")
	fs.BoolVar(&noEcho, "no-lns-keepalive", false, "run the LNS with LCP keepalive off (works around the Echo-Reply ping-pong between ppp.Sessions)")
	switch what {
	case "setup", "memory":
		fs.IntVar(&o.Subscribers, "n", 1000, "subscribers to bring up")
		fs.Float64Var(&o.Rate, "rate", 0, "set-ups per second (0: as fast as -inflight allows)")
		fs.IntVar(&inflight, "inflight", 200, "bras load's cap on set-ups under way")
		fs.DurationVar(&hold, "hold", 3*time.Second, "how long the sessions stay up once all are up")
		fs.BoolVar(&ipv6, "ipv6", false, "measure IPv4-only subscribers, then dual-stack ones (IPV6CP, RA, DHCPv6 prefix delegation) in the same run")
		fs.StringVar(&versions, "l2tp-version", "2", "L2TP version of the LAC-LNS tunnel: 2, 3 (RFC 3931 PPP pseudowires), or 2,3 for both in one run, alternating")
		fs.IntVar(&rounds, "rounds", 1, "with -l2tp-version 2,3: runs of each version, alternating")
		fs.StringVar(&encap, "l2tp-encap", "udp", "L2TPv3's transport: udp, or ip (straight over IP protocol 115, RFC 3931 section 4.1.1)")
	case "reconnect":
		fs.IntVar(&o.Subscribers, "n", 1000, "subscribers to bring up and reconnect")
		fs.DurationVar(&ro.Down, "down", 5*time.Second, "how long the access links stay down")
		fs.IntVar(&ro.InFlight, "inflight", 200, "bras load's cap on set-ups under way")
		fs.DurationVar(&ro.Wait, "wait", 10*time.Minute, "limit of each wait: all up, all up again")
	case "forward":
		fs.StringVar(&o.Engine, "engine", "auto", "the daemons' forwarding engine: auto, xdp or userspace")
		fs.StringVar(&sizes, "size", "64,1400", "packet sizes, comma separated: IP packet length in octets (with -iperf: UDP payload, iperf3 -l)")
		fs.DurationVar(&dur, "t", 5*time.Second, "duration of each run (with -iperf: of each iperf3 run)")
		fs.IntVar(&rounds, "rounds", 3, "bras and kernel runs per direction and size, alternating")
		fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
		fs.BoolVar(&ipv6, "ipv6", false, "send IPv6 packets (PPP 0x0057) from and to the subscriber's /64, and route IPv6 on the kernel path")
		fs.BoolVar(&iperf, "iperf", false, "run the iperf3 benchmark over a bras load TUN session instead (application-level figure)")
		fs.BoolVar(&reverse, "reverse", true, "with -iperf: also measure downstream (iperf3 -R)")
		fs.IntVar(&o.L2TPVersion, "l2tp-version", 2, "L2TP version of the LAC-LNS tunnel: 2 or 3 (RFC 3931 PPP pseudowires, forwarded in user space)")
		fs.StringVar(&o.L2TPEncap, "l2tp-encap", "udp", "with -l2tp-version 3: udp, or ip (straight over IP protocol 115, RFC 3931 section 4.1.1)")
	case "soak":
		fs.IntVar(&o.Subscribers, "n", 10000, "subscribers, all lanes together")
		fs.DurationVar(&so.Duration, "d", 10*time.Minute, "how long the subscribers churn; the faults take the first part")
		fs.IntVar(&so.Lanes, "lanes", 2, "groups of subscribers that churn in turn")
		fs.DurationVar(&so.WaveHold, "hold", 10*time.Second, "how long each wave stays up once its set-ups are done")
		fs.Float64Var(&o.Rate, "rate", 0, "set-ups per second of each lane (0: as fast as the in-flight cap allows)")
		fs.Float64Var(&o.TrafficPPS, "traffic-pps", 1, "probes per second per session")
		fs.DurationVar(&so.PGDown, "pg-down", 60*time.Second, "how long PostgreSQL stays stopped")
		fs.DurationVar(&so.RadiusSilent, "radius-silent", 30*time.Second, "how long FreeRADIUS stays stopped (SIGSTOP)")
		fs.DurationVar(&so.LNSDown, "lns-down", 2*time.Second, "how long the LNS stays dead after its kill -9")
		fs.DurationVar(&so.LinkDown, "link-down", 20*time.Second, "how long the L2TP link stays down")
		fs.DurationVar(&so.Rest, "rest", 150*time.Second, "pause before the end state is measured (the Go runtime of an idle daemon collects every 2 min, then returns freed heap)")
	default:
		return fmt.Errorf("unknown benchmark %q: want setup, memory, reconnect, forward or soak", what)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Out = io.Discard
	if verbose {
		o.Out = os.Stderr
	}
	keepalive := "LNS LCP keepalive 10s (the lab's configuration)"
	if noEcho {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "bras-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if o.Bras, err = lab.WithoutLNSKeepalive(self, dir); err != nil {
			return err
		}
		keepalive = "LNS LCP keepalive off (-no-lns-keepalive)"
	}
	machine := fmt.Sprintf("machine: %s; load average at start %s; %s; %s", lab.Machine(), lab.LoadAvg(), time.Now().UTC().Format("2006-01-02 15:04 MST"), keepalive)
	if asJSON {
		fmt.Fprintln(os.Stderr, machine)
	} else {
		fmt.Fprintln(stdout, machine)
	}
	switch what {
	case "reconnect":
		ro.Options = o
		r, err := lab.BenchReconnect(ctx, ro)
		if r != nil {
			printReconnect(stdout, r)
		}
		if err != nil {
			return err
		}
		if p := lab.CheckReconnect(r); len(p) > 0 {
			return fmt.Errorf("reconnect: %s", strings.Join(p, "; "))
		}
		return nil
	case "soak":
		so.Options = o
		r, err := lab.Soak(ctx, so)
		if r != nil {
			printSoak(stdout, r)
		}
		if err != nil {
			return err
		}
		if p := lab.CheckSoak(r); len(p) > 0 {
			return fmt.Errorf("soak: %s", strings.Join(p, "; "))
		}
		return nil
	case "setup", "memory":
		families := []bool{false}
		if ipv6 {
			families = []bool{false, true}
		}
		vs, err := parseL2TPVersions(versions)
		if err != nil {
			return err
		}
		if len(vs) == 1 {
			rounds = 1
		}
		for round := range max(rounds, 1) {
			for _, v := range vs {
				o.L2TPVersion, o.L2TPEncap = v, ""
				if v == 3 {
					o.L2TPEncap = encap // L2TPv2 runs over UDP only
				}
				for _, dual := range families {
					o.IPv6 = dual
					switch {
					case len(vs) > 1:
						fmt.Fprintf(stdout, "round %d, L2TPv%d%s%s:\n", round+1, v, map[bool]string{false: "", true: " over IP"}[o.L2TPEncap == "ip"],
							map[bool]string{false: "", true: ", dual stack"}[dual])
					case ipv6:
						fmt.Fprintln(stdout, map[bool]string{false: "IPv4 only:", true: "dual stack:"}[dual])
					}
					b, err := lab.BenchSessions(ctx, o, inflight, hold)
					if err != nil {
						return err
					}
					printSessions(stdout, what, b)
					if b.Load.Up != o.Subscribers {
						return fmt.Errorf("%d of %d subscribers came up", b.Load.Up, o.Subscribers)
					}
					if v := b.Load.IPv6; dual && (v == nil || v.Up != o.Subscribers) {
						return fmt.Errorf("IPv6: %+v; want all %d subscribers with their prefixes", v, o.Subscribers)
					}
				}
			}
		}
		return nil
	case "forward":
		if !iperf {
			switch o.Engine {
			case "auto", "xdp", "userspace":
			default:
				return fmt.Errorf("-engine %q: want auto, xdp or userspace", o.Engine)
			}
			if o.L2TPVersion != 2 && o.L2TPVersion != 3 {
				return fmt.Errorf("-l2tp-version %d: want 2 or 3", o.L2TPVersion)
			}
			if o.L2TPVersion == 3 && o.Engine != "userspace" {
				return errors.New("-l2tp-version 3: the XDP programs take L2TPv2 only; use -engine userspace")
			}
			fo := lab.XDPForwardOptions{Duration: dur, Rounds: rounds, IPv6: ipv6}
			maxSize, family := 1472, "IPv4"
			if ipv6 {
				maxSize, family = 1452, "IPv6"
			}
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 64 || n > maxSize {
					return fmt.Errorf("-size %q: want %s packet sizes 64..%d", s, family, maxSize)
				}
				fo.Sizes = append(fo.Sizes, n)
			}
			res, err := lab.BenchForwardXDP(ctx, o, fo)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			if o.L2TPVersion == 3 {
				over := "UDP"
				if o.L2TPEncap == "ip" {
					over = "IP protocol 115"
				}
				fmt.Fprintf(stdout, "tunnel: L2TPv3 (RFC 3931) over %s, a PPP pseudowire signed with HMAC-MD5, 4-octet cookies both ways\n", over)
			}
			printForwardXDP(stdout, res, fo)
			return nil
		}
		if asJSON {
			return errors.New("-json: only without -iperf")
		}
		if ipv6 {
			return errors.New("-ipv6: only without -iperf")
		}
		var fo lab.ForwardOptions
		for _, s := range strings.Split(sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 16 || n > 1440 {
				return fmt.Errorf("-size %q: want UDP payload sizes 16..1440", s)
			}
			fo.Sizes = append(fo.Sizes, n)
		}
		fo.Duration, fo.Reverse = dur, reverse
		res, err := lab.BenchForward(ctx, o, fo)
		printForward(stdout, res, dur)
		return err
	}
	return fmt.Errorf("unknown benchmark %q", what)
}

func printSessions(w io.Writer, what string, b *lab.SessionsBench) {
	r := b.Load
	fmt.Fprintf(w, "subscribers %d: %d up, %d failed %v, %d dropped\n", b.Subscribers, r.Up, r.Failed, r.Failures, r.Dropped)
	fmt.Fprintf(w, "set-up: %.0f sessions/s (%.2f s first PADI → last IPCP up); PADI→IPCP p50 %.1f ms p99 %.1f ms max %.1f ms\n",
		r.SetupRate, r.SetupSeconds, r.Stages.Total.P50, r.Stages.Total.P99, r.Stages.Total.Max)
	fmt.Fprintf(w, "stages p50/p99 ms: discovery %.1f/%.1f, LCP %.1f/%.1f, auth %.1f/%.1f, IPCP %.1f/%.1f\n",
		r.Stages.Discovery.P50, r.Stages.Discovery.P99, r.Stages.LCP.P50, r.Stages.LCP.P99,
		r.Stages.Auth.P50, r.Stages.Auth.P99, r.Stages.IPCP.P50, r.Stages.IPCP.P99)
	fmt.Fprintf(w, "CPU seconds from the first PADI to all resolved (%.1f s):", b.UpAt.Seconds())
	for _, c := range b.CPU {
		fmt.Fprintf(w, " %s %.2f", c.Name, c.Seconds)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "memory: LNS RSS %.1f → %.1f MiB = %.0f B/session; LAC RSS %.1f → %.1f MiB = %.0f B/session\n",
		mib(b.LNSRSSBefore), mib(b.LNSRSSUp), b.LNSBytesPerSession(), mib(b.LACRSSBefore), mib(b.LACRSSUp), b.LACBytesPerSession())
	fmt.Fprintf(w, "tunnels: %d (%s)\n", len(b.LACTunnels), strings.Trim(strings.Join(strings.Fields(fmt.Sprint(b.LACTunnels)), ", "), "[]"))
	family := "IPv4"
	if v := r.IPv6; v != nil {
		family = "dual stack"
		fmt.Fprintf(w, "IPv6: %d up, %d failed %v; IPV6CP open → both prefixes p50 %.1f ms p99 %.1f ms\n",
			v.Up, v.Failed, v.Failures, v.Setup.P50, v.Setup.P99)
	}
	if what == "setup" {
		fmt.Fprintf(w, "BENCHMARKS.md: | %s | %d | %.0f | %.1f ms | %.1f ms | %d |\n", family, b.Subscribers, r.SetupRate, r.Stages.Total.P50, r.Stages.Total.P99, r.Failed)
	} else {
		fmt.Fprintf(w, "BENCHMARKS.md: | %d | %.1f KiB | %.1f KiB |\n", r.Up, b.LNSBytesPerSession()/1024, b.LACBytesPerSession()/1024)
	}
}

func printReconnect(w io.Writer, b *lab.ReconnectBench) {
	fmt.Fprintf(w, "subscribers %d: %d up %.1f s after the first PADI (first set-ups failed: %d %v); access links down %v\n",
		b.Subscribers, b.UpBefore, b.FirstUp.Seconds(), b.Load.Failed, b.Load.Failures, b.Down)
	rc := b.Load.Reconnect
	if rc == nil {
		rc = &load.ReconnectReport{}
	}
	fmt.Fprintf(w, "up again: %d of %d (bras load: %d reconnected, %d waiting; drops %v; %d attempts, failures %v)\n",
		b.UpAfter, b.Subscribers, rc.Reconnected, rc.Waiting, rc.Drops, rc.Attempts, rc.Failures)
	fmt.Fprintf(w, "links' return → last session up: %.2f s (bras load; the bench's progress line: %.1f s); %.0f sessions/s; PADI→IPCP p50 %.1f ms p99 %.1f ms max %.1f ms\n",
		rc.Seconds, b.BackUp.Seconds(), rc.Rate, rc.Setup.P50, rc.Setup.P99, rc.Setup.Max)
	fmt.Fprintf(w, "CPU seconds from the links down to all up again:")
	for _, c := range b.CPU {
		fmt.Fprintf(w, " %s %.2f", c.Name, c.Seconds)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "LAC: %d carrier losses, %d sessions cleared, %d PADIs rate-limited, %d calls refused, %d timed out\n",
		b.LACCarrierLosses, b.LACCarrierCleared, b.LACPADIRateLimited, b.LACRefused, b.LACCallTimeouts)
	fmt.Fprintf(w, "LNS RADIUS: %d access requests (%d timed out), %d accounting requests (%d timed out); %d set-ups refused\n",
		b.LNSAuthRequests, b.LNSAuthTimeouts, b.LNSAcctRequests, b.LNSAcctTimeouts, b.LNSSessionsRefused)
	fmt.Fprintf(w, "PostgreSQL: %d sessions, %d closed %v, %d open; Starts and Stops not yet delivered to a sink: %d (spool %d bytes, Interim-Updates included)\n",
		b.DBSessions, b.DBStopped(), b.DBCauses, b.DBOpen, b.AcctUndelivered, b.SpoolBytes)
	fmt.Fprintf(w, "BENCHMARKS.md: | %d | %v | %d | %.1f s | %.0f | %.1f ms | %.1f ms | %d | %d/%d/%d |\n",
		b.Subscribers, b.Down, b.UpAfter, rc.Seconds, rc.Rate, rc.Setup.P50, rc.Setup.P99, b.LNSAuthTimeouts+b.LNSAcctTimeouts,
		b.DBSessions, b.DBCauses["Lost-Carrier"], b.DBOpen)
}

func printForward(w io.Writer, res []lab.ForwardBench, d time.Duration) {
	for _, f := range res {
		dir := "upstream (sub → upstream)"
		if f.Reverse {
			dir = "downstream (upstream → sub, -R)"
		}
		fmt.Fprintf(w, "%s, %d-octet UDP payload (%d-octet IPv4), %v: bras %.0f pkt/s delivered (%d of %d), kernel %.0f pkt/s (%d of %d), ratio %.2f\n",
			dir, f.Size, f.Size+28, d, f.Bras.PPS(), f.Bras.Delivered, f.Bras.Sent, f.Kernel.PPS(), f.Kernel.Delivered, f.Kernel.Sent, f.Ratio())
		fmt.Fprintf(w, "  CPU seconds during the bras run:")
		for _, c := range f.CPU {
			fmt.Fprintf(w, " %s %.2f", c.Name, c.Seconds)
		}
		fmt.Fprintln(w)
	}
	for _, f := range res {
		dir := "up"
		if f.Reverse {
			dir = "down"
		}
		fmt.Fprintf(w, "BENCHMARKS.md: | %s | %d | %.0f | %.0f | %.2f |\n", dir, f.Size+28, f.Bras.PPS(), f.Kernel.PPS(), f.Ratio())
	}
}

func printForwardXDP(w io.Writer, b *lab.XDPForwardBench, fo lab.XDPForwardOptions) {
	fmt.Fprintf(w, "engine %s, %s; %d rounds of %v per path, alternating; NIC-like generator (BPF_PROG_TEST_RUN live frames) → XDP sink; medians\n",
		b.Engine, b.Family, len(b.Results[0].Rounds), fo.Duration)
	fmt.Fprintf(w, "%-5s %5s %12s %12s %7s   %s\n", "dir", "size", "bras pkt/s", "kernel pkt/s", "ratio", "rounds: bras/kernel pkt/s (CPU seconds of the daemons in the bras run)")
	for _, r := range b.Results {
		var rounds []string
		for _, x := range r.Rounds {
			var cpu []string
			for _, c := range x.CPU {
				cpu = append(cpu, fmt.Sprintf("%s %.2f", c.Name, c.Seconds))
			}
			rounds = append(rounds, fmt.Sprintf("%.0f/%.0f (%s)", x.BrasPPS, x.KernelPPS, strings.Join(cpu, " ")))
		}
		fmt.Fprintf(w, "%-5s %5d %12.0f %12.0f %7.2f   %s\n", r.Direction, r.Size, r.BrasPPS, r.KernelPPS, r.Ratio, strings.Join(rounds, ", "))
		if st := r.Stages; len(st) > 0 {
			var s []string
			for _, c := range st {
				s = append(s, fmt.Sprintf("%s %.0f", c.Program, c.NsPerPacket))
			}
			fmt.Fprintf(w, "%-18s ns per packet in each XDP program (one more bras run, BPF statistics on): %s\n", "", strings.Join(s, ", "))
		}
	}
	for _, r := range b.Results {
		engine := b.Engine
		if b.Family == "ipv6" {
			engine += ", IPv6"
		}
		fmt.Fprintf(w, "BENCHMARKS.md: | %s | %s | %d | %.0f | %.0f | %.2f |\n", engine, r.Direction, r.Size, r.BrasPPS, r.KernelPPS, r.Ratio)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func printSoak(w io.Writer, r *lab.SoakResult) {
	fmt.Fprintf(w, "%d subscribers in %d lanes churning for %v: %d waves, %d sessions seen up; last waves %d of %d up\n",
		r.Subscribers, r.Lanes, r.Duration, r.Waves, r.SeenUp, r.LastWavesUp, r.LastWavesSize)
	for _, f := range r.Faults {
		fmt.Fprintf(w, "  fault at %v (took %v): %s %s\n", f.At.Round(time.Second), f.Took.Round(time.Second), f.Name, f.Err)
	}
	fmt.Fprintf(w, "set-ups failed %v (not a clean refusal: %d %v); sessions dropped %v\n", r.Failures, r.Unclean, r.UncleanReasons, r.Drops)
	fmt.Fprintf(w, "accounting: %d rows; of %d seen up %d matched, %d lost, %d doubled, %d without Stop; %d rows of set-ups bras load did not see up; %d closed by the restarted LNS (NAS-Reboot), %d with their real Stop later\n",
		r.Records, r.SeenUp, r.Matched, r.Lost, r.Doubled, r.Stopless, r.Unseen, r.OrphanStops, r.ReplacedStops)
	fmt.Fprintf(w, "causes: %s\n", lab.SoakCauses(r))
	fmt.Fprintf(w, "half-open after %v: PostgreSQL %d, LNS %d, LAC %d\n", r.Settled.Round(time.Second), r.OpenDB, r.OpenLNS, r.OpenLAC)
	fmt.Fprintf(w, "goroutines before/after: LNS %d/%d, LAC %d/%d; RSS before/peak/after: LNS %.1f/%.1f/%.1f MiB, LAC %.1f/%.1f/%.1f MiB\n",
		r.LNSGoroutines[0], r.LNSGoroutines[1], r.LACGoroutines[0], r.LACGoroutines[1],
		mib(r.LNSRSS[0]), mib(r.LNSPeakRSS), mib(r.LNSRSS[1]), mib(r.LACRSS[0]), mib(r.LACPeakRSS), mib(r.LACRSS[1]))
	fmt.Fprintf(w, "Go heap in use before/after: LNS %.1f/%.1f MiB, LAC %.1f/%.1f MiB\n",
		mib(int64(r.LNSHeap[0])), mib(int64(r.LNSHeap[1])), mib(int64(r.LACHeap[0])), mib(int64(r.LACHeap[1])))
	for _, x := range r.Examples {
		fmt.Fprintf(w, "  %s\n", x)
	}
	fmt.Fprintf(w, "BENCHMARKS.md: | %d | %v | %d | %d | %d | %d | %d | %d | %d → %d / %d → %d | %.0f → %.0f → %.0f / %.0f → %.0f → %.0f |\n",
		r.Subscribers, r.Duration, r.Waves, r.SeenUp, r.Lost, r.Doubled, max(r.OpenDB, 0)+max(r.OpenLNS, 0)+max(r.OpenLAC, 0), r.Unclean,
		r.LNSGoroutines[0], r.LNSGoroutines[1], r.LACGoroutines[0], r.LACGoroutines[1],
		mib(r.LNSRSS[0]), mib(r.LNSPeakRSS), mib(r.LNSRSS[1]), mib(r.LACRSS[0]), mib(r.LACPeakRSS), mib(r.LACRSS[1]))
}

// parseL2TPVersions reads -l2tp-version of bras bench setup: "2", "3" or
// "2,3" (both, alternating).
func parseL2TPVersions(s string) ([]int, error) {
	var vs []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || (v != 2 && v != 3) {
			return nil, fmt.Errorf("-l2tp-version %q: want 2, 3 or 2,3", s)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// Package load emulates PPPoE subscribers (RFC 2516) running PPP in user
// space (RFC 1661, 1334, 1994, 1332) against an access concentrator, to bring
// up many sessions at a set rate, move real IPv4/UDP traffic over them, and
// report set-up latency per stage and traffic loss: the engine of `bras load`.
//
// Start opens one PPPoE client on an interface (in the network namespace of
// the calling thread) and runs every subscriber on a few goroutines: a
// launcher paces the set-ups (Config.Rate, at most Config.InFlight under
// way, one short-lived goroutine per discovery in flight), and GOMAXPROCS
// workers own the PPP sessions with a timer heap each, fed by bounded
// inboxes. The handle's Stats, Sessions, WaitSetup, Stop and Report let a
// caller (bras lab, a benchmark) keep the sessions up while it does other
// things; Run does a whole run.
//
// Traffic: once a session's IPCP is up it sends UDP probes (Probe: session,
// sequence number, send time) from its address to Traffic.Target, a
// udpecho server that sends them back. Echoes are matched by (session,
// sequence number); SeqTracker counts received, reordered and duplicated
// probes, and the round-trip times go to a lock-free histogram. With
// Traffic.QueryUpstream the echo server is asked over each session how many
// probes it got, which splits the loss into upstream and downstream.
//
// Dual stack (Config.IPv6): PPP runs IPV6CP next to IPCP (RFC 5072); once
// it is open the subscriber's client6 sends a Router Solicitation and forms
// its SLAAC address from the advertised /64 and its interface identifier
// (RFC 4861, RFC 4862), and asks DHCPv6 for a delegated prefix (RFC 8415:
// Solicit with Rapid Commit, or Solicit/Advertise/Request/Reply; IA_PD and
// optionally IA_NA). A set-up is done when both families are (or IPv6 gave
// up). IPv6 probes go to Traffic.Target6 from the SLAAC address and from
// the delegated prefix in turn, next to the IPv4 ones, and are counted per
// family with their octets.
//
// The Report (JSON) has: sessions, started, up, failed, dropped, failures and
// drops per reason, setup_seconds and setup_rate, stages (padi_pads, lcp,
// auth, ipcp, total: count, mean/p50/p90/p99/max in ms), traffic (sent,
// received, lost, loss_ratio, reordered, duplicated, rtt, upstream,
// sent_pps, delivered_pps, sent_octets, received_octets, and per family
// ipv4 and ipv6), ipv6 (up, failed, failures, setup), inbox_drops and the
// PPPoE client's drop counters.
package load

package accounting

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func at(s string) time.Time {
	t, err := ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

// reportFixture: alice's session spans midnight with interims on both
// sides, bob later gets alice's address, carol is still online. Alice is
// dual-stack: half of what she sends and a quarter of what she gets is
// IPv6.
func reportFixture(t *testing.T) *Reports {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	mk := func(id, user, lac, realm, addr string, seq uint32, k Kind, when, started string, in, out uint64, cause TerminateCause) Record {
		r := Record{Kind: k, Seq: seq, SessionID: id, Node: "lns1", Username: user, LAC: lac, Realm: realm,
			Addr: netip.MustParseAddr(addr), Time: at(when), Started: at(started), InOctets: in, OutOctets: out, Cause: cause,
			CallingStationID: "02:00:00:00:00:" + id[:2]}
		if user == "alice" {
			r.In6Octets, r.Out6Octets = in/2, out/4
		}
		return r
	}
	recs := []Record{
		mk("a1", "alice", "lacA", "r1", "100.64.0.7", 0, Start, "2026-03-31T22:00:00", "2026-03-31T22:00:00", 0, 0, 0),
		mk("a1", "alice", "lacA", "r1", "100.64.0.7", 1, Interim, "2026-03-31T23:30:00", "2026-03-31T22:00:00", 1000, 5000, 0),
		mk("a1", "alice", "lacA", "r1", "100.64.0.7", 2, Interim, "2026-04-01T00:30:00", "2026-03-31T22:00:00", 1500, 8000, 0),
		mk("a1", "alice", "lacA", "r1", "100.64.0.7", 3, Stop, "2026-04-01T01:00:00", "2026-03-31T22:00:00", 2000, 10000, CauseUserRequest),
		mk("b1", "bob", "lacB", "r2", "100.64.0.7", 0, Start, "2026-04-01T10:00:00", "2026-04-01T10:00:00", 0, 0, 0),
		mk("b1", "bob", "lacB", "r2", "100.64.0.7", 1, Stop, "2026-04-01T12:00:00", "2026-04-01T10:00:00", 300, 400, CauseLostCarrier),
		mk("c1", "carol", "lacA", "r1", "100.64.0.8", 0, Start, "2026-04-01T20:00:00", "2026-04-01T20:00:00", 0, 0, 0),
		mk("c1", "carol", "lacA", "r1", "100.64.0.8", 1, Interim, "2026-04-01T21:00:00", "2026-04-01T20:00:00", 50, 60, 0),
	}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	r := NewReports(db)
	r.now = func() time.Time { return at("2026-04-02T00:00:00") }
	return r
}

func TestReports(t *testing.T) {
	r := reportFixture(t)
	tests := []struct {
		name   string
		report string
		query  string
		want   [][]string
	}{
		{"usage by day splits alice at midnight", "usage", "from=2026-03-31&to=2026-04-02&by=day", [][]string{
			{"alice", "2026-03-31", "1", "7200", "1000", "5000", "500", "1250"},
			{"alice", "2026-04-01", "1", "3600", "1000", "5000", "500", "1250"},
			{"bob", "2026-04-01", "1", "7200", "300", "400", "0", "0"},
			{"carol", "2026-04-01", "1", "3600", "50", "60", "0", "0"},
		}},
		{"usage by month", "usage", "from=2026-03-01&to=2026-05-01&by=month", [][]string{
			{"alice", "2026-03", "1", "7200", "1000", "5000", "500", "1250"},
			{"alice", "2026-04", "1", "3600", "1000", "5000", "500", "1250"},
			{"bob", "2026-04", "1", "7200", "300", "400", "0", "0"},
			{"carol", "2026-04", "1", "3600", "50", "60", "0", "0"},
		}},
		{"usage of one user, part of a day", "usage", "from=2026-04-01T00:00:00Z&to=2026-04-01T00:45:00Z&user=alice", [][]string{
			{"alice", "2026-04-01", "1", "2700", "500", "3000", "250", "750"},
		}},
		{"ip: alice had it after midnight", "ip", "addr=100.64.0.7&at=2026-04-01T00:45:00Z", [][]string{
			{"100.64.0.7", "a1", "alice", "02:00:00:00:00:a1", "", "", "", "lns1", "lacA", "2026-03-31T22:00:00Z", "2026-04-01T01:00:00Z"},
		}},
		{"ip: bob had it later", "ip", "addr=100.64.0.7&at=2026-04-01T11:00:00Z", [][]string{
			{"100.64.0.7", "b1", "bob", "02:00:00:00:00:b1", "", "", "", "lns1", "lacB", "2026-04-01T10:00:00Z", "2026-04-01T12:00:00Z"},
		}},
		{"ip: nobody in between", "ip", "addr=100.64.0.7&at=2026-04-01T09:00:00Z", [][]string{}},
		{"top talkers", "top", "from=2026-03-01&to=2026-05-01&limit=2", [][]string{
			{"1", "alice", "12000", "2000", "10000", "1", "10800"},
			{"2", "bob", "700", "300", "400", "1", "7200"},
		}},
		{"causes", "causes", "from=2026-03-01&to=2026-05-01", [][]string{
			{"Lost-Carrier", "1", "50.0"},
			{"User-Request", "1", "50.0"},
		}},
		{"per LAC", "lac", "from=2026-03-01&to=2026-05-01", [][]string{
			{"lacA", "2", "14400", "2050", "10060", "1000", "2500"},
			{"lacB", "1", "7200", "300", "400", "0", "0"},
		}},
		{"per realm", "realm", "from=2026-04-01&to=2026-04-02", [][]string{
			{"r1", "2", "7200", "1050", "5060", "500", "1250"},
			{"r2", "1", "7200", "300", "400", "0", "0"},
		}},
		{"active sessions", "sessions", "active=true", [][]string{
			{"c1", "lns1", "carol", "100.64.0.8", "02:00:00:00:00:c1", "lacA", "0", "0", "2026-04-01T20:00:00Z", "", "", "3600", "50", "60", "0", "0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseReportParams(q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Run(context.Background(), tt.report, p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Rows); diff != "" {
				t.Errorf("%v (-want +got)\n%s", got.Columns, diff)
			}
		})
	}
}

func TestReportBadRequests(t *testing.T) {
	r := reportFixture(t)
	for _, q := range []struct{ name, report, query string }{
		{"from after to", "usage", "from=2026-04-02&to=2026-04-01"},
		{"unknown report", "nope", ""},
		{"by week", "usage", "by=week"},
		{"ip without addr", "ip", ""},
	} {
		v, _ := url.ParseQuery(q.query)
		p, err := ParseReportParams(v)
		if err == nil {
			_, err = r.Run(context.Background(), q.report, p)
		}
		if !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: err = %v, want ErrBadReport", q.name, err)
		}
	}
	for _, q := range []string{"from=yesterday", "addr=300.1.1.1", "limit=-1", "active=maybe"} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseReportParams(v); !errors.Is(err, ErrBadReport) {
			t.Errorf("ParseReportParams(%s) = %v, want ErrBadReport", q, err)
		}
	}
}

// TestReportIPv6: bras report ip finds a dual-stack subscriber by an IPv6
// address in its /64 or behind its router (the delegated prefix), and a
// Stop that does not repeat the prefixes keeps them.
func TestReportIPv6(t *testing.T) {
	_, db := migrated(t)
	dave := Record{Kind: Start, SessionID: "d1", Node: "lns1", Username: "dave", LAC: "lacA", CallingStationID: "02:00:00:00:00:d1",
		Addr: netip.MustParseAddr("100.64.0.9"), Time: at("2026-04-01T06:00:00"), Started: at("2026-04-01T06:00:00"),
		IPv6Prefix: netip.MustParsePrefix("2001:db8:1:2::/64"), DelegatedPrefix: netip.MustParsePrefix("2001:db8:ff00::/56")}
	stop := dave
	stop.Kind, stop.Seq, stop.Time, stop.Cause = Stop, 1, at("2026-04-01T07:00:00"), CauseUserRequest
	stop.IPv6Prefix, stop.DelegatedPrefix = netip.Prefix{}, netip.Prefix{}
	s := NewStore(db, "lns1")
	if err := s.Write(context.Background(), []Record{dave}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []Record{stop}); err != nil {
		t.Fatal(err)
	}
	r := NewReports(db)
	for _, tc := range []struct {
		name, query string
		want        [][]string
	}{
		{"in the /64", "addr=2001:db8:1:2::abcd&at=2026-04-01T06:30:00Z", [][]string{
			{"2001:db8:1:2::/64", "d1", "dave", "02:00:00:00:00:d1", "", "", "", "lns1", "lacA", "2026-04-01T06:00:00Z", "2026-04-01T07:00:00Z"},
		}},
		{"behind the router", "addr=2001:db8:ff00:12::1&at=2026-04-01T06:30:00Z", [][]string{
			{"2001:db8:ff00::/56", "d1", "dave", "02:00:00:00:00:d1", "", "", "", "lns1", "lacA", "2026-04-01T06:00:00Z", "2026-04-01T07:00:00Z"},
		}},
		{"after the session", "addr=2001:db8:1:2::abcd&at=2026-04-01T08:00:00Z", [][]string{}},
		{"another prefix", "addr=2001:db8:1:3::1&at=2026-04-01T06:30:00Z", [][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			p, err := ParseReportParams(q)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := r.Run(context.Background(), "ip", p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tb.Rows); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

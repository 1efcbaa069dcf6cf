package aaa_test

import (
	"context"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
	"github.com/bras-project/bras/internal/testenv"
	"layeh.com/radius"
)

// BenchmarkAuthenticate measures PAP round trips through the client
// against an in-process server (client cost plus loopback UDP).
func BenchmarkAuthenticate(b *testing.B) {
	srv := aaatest.New(b, secret, accept)
	c, err := aaa.NewClient(aaa.ClientConfig{
		Servers: []aaa.Server{{Addr: srv.Addr, Secret: secret}}, NASIdentifier: "lns1", MaxInFlight: 64,
	})
	if err != nil {
		b.Fatal(err)
	}
	req := aaa.AuthRequest{Username: "alice", PAPPassword: []byte("pw"), CallingStationID: "02:00:00:00:00:01", AcctSessionID: "S1"}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Authenticate(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auth/s")
}

// BenchmarkAuthenticateFreeRADIUS measures PAP round trips against the
// real FreeRADIUS, the ceiling the LNS session set-up rate runs into.
func BenchmarkAuthenticateFreeRADIUS(b *testing.B) {
	f := testenv.StartFreeRADIUS(b, testenv.RadiusConfig{Users: radiusUsers})
	c, err := aaa.NewClient(aaa.ClientConfig{
		Servers:       []aaa.Server{{Addr: f.AuthAddr.String(), Secret: []byte(f.Secret)}},
		NASIdentifier: "lns1", MaxInFlight: 64, Timeout: 5 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	req := aaa.AuthRequest{Username: "alice", PAPPassword: []byte("alice-pw")}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := c.Authenticate(context.Background(), req)
			if err != nil || !r.Accept {
				b.Errorf("%v %+v", err, r)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auth/s")
}

func BenchmarkParseAuthReply(b *testing.B) {
	in := &aaa.AuthReply{Accept: true, FramedIP: netipMust("100.64.1.1"), SessionTimeout: time.Hour, FilterID: "1000/500",
		RateLimit: aaa.RateLimit{DownKbps: 1000, UpKbps: 500}, Class: [][]byte{[]byte("gold")}}
	attrs, err := in.AppendAttributes(nil, secret, reqAuth)
	if err != nil {
		b.Fatal(err)
	}
	p := &radius.Packet{Code: radius.CodeAccessAccept, Secret: secret, Attributes: attrs}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aaa.ParseAuthReply(p, reqAuth); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoAHandle(b *testing.B) {
	h := &fakeSessions{sessions: []aaa.SessionSelector{coaSession}}
	s := aaa.NewCoAServer(nil, []aaa.DynamicClient{{Addr: netipPrefixMust("127.0.0.0/8"), Secret: secret}}, h, nil)
	now := coaNow
	s.Now = func() time.Time { now = now.Add(time.Second); return now } // cached replies expire
	s.ReplayWindow = 100 * time.Second                                  // before a request comes round again
	s.RequireEventTimestamp = false
	var reqs [256][]byte
	for i := range reqs {
		var err error
		reqs[i], err = aaa.EncodeDynamicRequest(aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}}, byte(i), secret)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s.Handle(context.Background(), reqs[i%len(reqs)], coaPeer) == nil {
			b.Fatal("no reply")
		}
		i++
	}
	if st := s.Stats(); st.Duplicates != 0 {
		b.Fatalf("measured the duplicate cache: %+v", st)
	}
}

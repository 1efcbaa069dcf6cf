package accounting

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
)

type fakeAccounter struct {
	mu     sync.Mutex
	got    map[string][]aaa.AcctRequest
	failOn string
}

func (f *fakeAccounter) Account(ctx context.Context, r aaa.AcctRequest) error {
	if r.SessionID == f.failOn && r.Status == aaa.AcctStop {
		return errors.New("timeout")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[r.SessionID] = append(f.got[r.SessionID], r)
	return nil
}

func TestRADIUSSink(t *testing.T) {
	f := &fakeAccounter{got: map[string][]aaa.AcctRequest{}}
	s := &RADIUSSink{Client: f, Workers: 4}
	stop := sess("a", "alice", 2, Stop, t0.Add(90*time.Second), 10, 20)
	stop.Cause = CauseIdleTimeout
	recs := []Record{sess("a", "alice", 0, Start, t0, 0, 0), sess("b", "bob", 0, Start, t0, 0, 0),
		sess("a", "alice", 1, Interim, t0.Add(time.Minute), 5, 6), stop}
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	a := f.got["a"]
	if len(a) != 3 || a[0].Status != aaa.AcctStart || a[1].Status != aaa.AcctInterimUpdate || a[2].Status != aaa.AcctStop {
		t.Fatalf("alice's requests out of order: %+v", a)
	}
	if a[2].Cause != aaa.IdleTimeout || a[2].InOctets != 10 || a[2].SessionTime != 90*time.Second ||
		a[2].Tunnel == nil || a[2].Tunnel.ClientAuthID != "lac1" || a[2].Tunnel.Connection != "1/2" || string(a[2].Class[0]) != "\xca\xfe" {
		t.Errorf("Stop request %+v", a[2])
	}
	f.failOn = "b"
	if err := s.Write(context.Background(), []Record{sess("b", "bob", 1, Stop, t0, 0, 0)}); err == nil {
		t.Error("a failed request did not fail the write")
	}
}

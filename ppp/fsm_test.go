package ppp

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rfcCell is one entry of RFC 1661's table as printed.
type rfcCell struct {
	legal bool
	acts  []Action
	next  State
}

// readRFCTable parses testdata/rfc1661-4.1.txt, the table of RFC 1661
// section 4.1 copied verbatim, into [event][state] cells. The expectations of
// TestFSMTable therefore come from the RFC text, not from fsm.go.
func readRFCTable(t *testing.T) map[Event]map[State]rfcCell {
	t.Helper()
	f, err := os.Open("testdata/rfc1661-4.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]Event{}
	for e := Up; e < numEvents; e++ {
		rows[e.String()] = e
	}
	acts := map[string]Action{}
	for a := TLU; a <= SER; a++ {
		acts[a.String()] = a
	}
	out := map[Event]map[State]rfcCell{}
	first := State(0)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		head, rest, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		head = strings.TrimSpace(head)
		fields := strings.Fields(rest)
		if head == "" && len(fields) > 0 {
			if n, err := strconv.Atoi(fields[0]); err == nil {
				first = State(n)
			}
			continue
		}
		ev, ok := rows[head]
		if !ok {
			continue
		}
		if out[ev] == nil {
			out[ev] = map[State]rfcCell{}
		}
		for i, f := range fields {
			st := first + State(i)
			if f == "-" {
				out[ev][st] = rfcCell{}
				continue
			}
			cell := rfcCell{legal: true}
			if as, s, ok := strings.Cut(f, "/"); ok {
				for _, a := range strings.Split(as, ",") {
					act, ok := acts[a]
					if !ok {
						t.Fatalf("unknown action %q in %q", a, line)
					}
					cell.acts = append(cell.acts, act)
				}
				f = s
			}
			f = strings.TrimRight(f, "rpx") // footnotes
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("bad cell %q in %q", f, line)
			}
			cell.next = State(n)
			out[ev][st] = cell
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFSMTable checks every state × event cell of RFC 1661 section 4.1: the
// new state and the actions, in the RFC's order.
func TestFSMTable(t *testing.T) {
	want := readRFCTable(t)
	n := 0
	for ev := Up; ev < numEvents; ev++ {
		for st := Initial; st <= Opened; st++ {
			w, ok := want[ev][st]
			if !ok {
				t.Fatalf("RFC table has no cell for %v in %v", ev, st)
			}
			n++
			t.Run(ev.String()+"/"+st.String(), func(t *testing.T) {
				f := FSM{State: st, Restarts: 3}
				acts, legal := f.Handle(ev)
				if legal != w.legal {
					t.Fatalf("legal = %v, RFC says %v", legal, w.legal)
				}
				wantState := w.next
				if !w.legal {
					wantState = st // an illegal event changes nothing
				}
				if f.State != wantState {
					t.Errorf("new state = %v, RFC says %v", f.State, wantState)
				}
				if diff := cmp.Diff(w.acts, acts); diff != "" {
					t.Errorf("actions (-want +got):\n%s", diff)
				}
			})
		}
	}
	if n != 160 {
		t.Fatalf("checked %d cells, want 16 events × 10 states", n)
	}
}

// TestFSMCounters checks RFC 1661 section 4.6: Max-Configure Configure-Requests
// are sent before TO-, Max-Terminate Terminate-Requests before tlf, and zrc
// leaves exactly one restart period.
func TestFSMCounters(t *testing.T) {
	count := func(f *FSM, send Action) int {
		n := 0
		for i := 0; i < 100; i++ {
			ev := f.Timeout()
			acts, ok := f.Handle(ev)
			if !ok {
				t.Fatalf("%v illegal in %v", ev, f.State)
			}
			for _, a := range acts {
				if a == send {
					n++
				}
				if a == TLF {
					return n
				}
			}
		}
		t.Fatal("never finished")
		return 0
	}
	for _, tc := range []struct {
		name           string
		maxConf, maxTm int
		wantConf       int
		wantTerm       int
	}{
		{"RFC defaults", 0, 0, 10, 2},
		{"configured", 4, 3, 4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := FSM{MaxConfigure: tc.maxConf, MaxTerminate: tc.maxTm}
			f.Handle(Up)
			f.Handle(Open) // irc, scr: the first Configure-Request
			if got := 1 + count(&f, SCR); got != tc.wantConf {
				t.Errorf("Configure-Requests sent = %d, want %d", got, tc.wantConf)
			}
			if f.State != Stopped {
				t.Errorf("state after TO- = %v, want Stopped", f.State)
			}
			f = FSM{State: Opened, MaxConfigure: tc.maxConf, MaxTerminate: tc.maxTm}
			f.Handle(Close)
			if got := 1 + count(&f, STR); got != tc.wantTerm {
				t.Errorf("Terminate-Requests sent = %d, want %d", got, tc.wantTerm)
			}
			if f.State != Closed {
				t.Errorf("state after TO- = %v, want Closed", f.State)
			}
			f = FSM{State: Opened}
			f.Handle(RTR)
			if f.Timeout() != TOMinus {
				t.Errorf("after zrc the next timeout is %v, want TO-", f.Timeout())
			}
		})
	}
}

package lns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/ctl"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// cli runs the operator commands against the lab's LNS API, which listens
// in namespace lns: its HTTP client dials from there.
type cli struct {
	t   *testing.T
	env ctl.Env
	out bytes.Buffer
	err bytes.Buffer
}

func newCLI(t *testing.T, l *lab) *cli {
	c := &cli{t: t}
	dial := func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
		err = l.lns.Do(func() error {
			var d net.Dialer
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	vars := map[string]string{"BRAS_API": "http://127.0.0.1:18080", "BRAS_API_TOKEN": "tok"}
	c.env = ctl.Env{Stdout: &c.out, Stderr: &c.err, Stdin: strings.NewReader(""),
		Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		HTTP:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial}}}
	return c
}

// run runs a command ("show" or "terminate") and returns its output.
func (c *cli) run(cmd string, args ...string) (string, error) {
	c.t.Helper()
	c.out.Reset()
	c.err.Reset()
	var err error
	switch cmd {
	case "show":
		err = ctl.Show(context.Background(), args, c.env)
	case "terminate":
		err = ctl.Terminate(context.Background(), args, c.env)
	default:
		c.t.Fatalf("no command %q", cmd)
	}
	return c.out.String(), err
}

func (c *cli) must(cmd string, args ...string) string {
	c.t.Helper()
	out, err := c.run(cmd, args...)
	if err != nil {
		c.t.Fatalf("bras %s %s: %v (stderr %s)", cmd, strings.Join(args, " "), err, c.err.String())
	}
	return out
}

func (c *cli) sessions(args ...string) []api.Session {
	c.t.Helper()
	var ss []api.Session
	out := c.must("show", append([]string{"sessions", "-json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &ss); err != nil {
		c.t.Fatalf("show sessions -json: %v: %s", err, out)
	}
	return ss
}

func (c *cli) users(args ...string) []string {
	c.t.Helper()
	var us []string
	for _, s := range c.sessions(args...) {
		us = append(us, s.User)
	}
	return us
}

func (c *cli) pools() map[string]api.Pool {
	c.t.Helper()
	var ps []api.Pool
	out := c.must("show", "pools", "-json")
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		c.t.Fatalf("show pools -json: %v: %s", err, out)
	}
	m := map[string]api.Pool{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// eventually retries cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestCLIAgainstLNS drives the operator commands against a running LNS
// (in-process, in its namespace) with subscribers dialled through an
// emulated LAC and authenticated by a real FreeRADIUS: filters by MAC, by
// user regular expression and by circuit ID narrow the list; the pools
// count what the sessions hold; terminate by user ends exactly that
// session (the subscriber gets its CDN); terminate all without
// confirmation ends nothing; a bad filter is a 400 with the reason; and
// terminate all -yes ends everything and empties the pools.
func TestCLIAgainstLNS(t *testing.T) {
	users := []testenv.RadiusUser{
		{Name: "alice", Password: "pw-a"},
		{Name: "bob", Password: "pw-b"},
		{Name: "bobby", Password: "pw-bb", Reply: []testenv.RadiusAttr{{Name: "Framed-Pool", Value: "business"}}},
		{Name: "tess", Password: "pw-t"},
	}
	l := startLab(t, users)
	ctx := context.Background()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	subs := map[string]*simSub{
		"alice": lac.dialAuth("alice", "pw-a", "02:00:00:00:0c:01", ppp.AuthPAP),
		"bob":   lac.dialAuth("bob", "pw-b", "02:00:00:00:0c:02", ppp.AuthPAP),
		"bobby": lac.dialAuth("bobby", "pw-bb", "02:00:00:00:0c:03", ppp.AuthCHAPMD5),
		"tess": lac.place(&simSub{user: "tess", password: "pw-t", auth: []ppp.AuthProto{ppp.AuthPAP}, icrq: []l2tp.AVP{
			{VendorID: 3561, Type: 1, Value: []byte("olt7 eth 1/1/3:100")}, // Agent-Circuit-Id (RFC 4679)
			{VendorID: 3561, Type: 2, Value: []byte("cpe-0042")},           // Agent-Remote-Id
		}}, "olt7 eth 1/1/3:100"),
	}
	for _, s := range subs {
		waitUp(t, s)
	}
	c := newCLI(t, l)
	eventually(t, "four sessions up", func() bool { return len(c.sessions("-state", "up")) == 4 })

	t.Run("filters", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{nil, []string{"alice", "bob", "bobby", "tess"}},
			{[]string{"-mac", "02:00:00:00:0C:02"}, []string{"bob"}},
			{[]string{"-mac", "~:0c:0[13]$"}, []string{"alice", "bobby"}},
			{[]string{"-user", "~^bob"}, []string{"bob", "bobby"}},
			{[]string{"-regex", "-user", "^b.*y$"}, []string{"bobby"}},
			{[]string{"-user", "bob"}, []string{"bob"}},
			{[]string{"-circuit-id", "olt7 eth 1/1/3:100"}, []string{"tess"}},
			{[]string{"-remote-id", "~^cpe-"}, []string{"tess"}},
			{[]string{"-lac", "lac1", "-user", "~^(alice|tess)$"}, []string{"alice", "tess"}},
			{[]string{"-lac", "10.10.0.1", "-mac", "02:00:00:00:0c:01"}, []string{"alice"}},
			{[]string{"-lac", "lac2"}, nil},
			{[]string{"-ip", "100.64.2.0/24"}, []string{"bobby"}},
		} {
			if diff := cmp.Diff(tt.want, c.users(append(tt.args, "-sort", "user")...)); diff != "" {
				t.Errorf("show sessions %s (-want +got)\n%s", strings.Join(tt.args, " "), diff)
			}
		}
		tess := c.sessions("-user", "tess")[0]
		if tess.CircuitID != "olt7 eth 1/1/3:100" || tess.RemoteID != "cpe-0042" || tess.MAC != "" || tess.LAC != "lac1" || tess.LACAddr != "10.10.0.1" {
			t.Errorf("tess's session: %+v", tess)
		}
		tunnel := c.sessions("-user", "alice")[0].TunnelID
		if got := c.users("-tunnel", strconv.Itoa(int(tunnel)), "-sort", "user"); len(got) != 4 {
			t.Errorf("show sessions -tunnel %d: %v", tunnel, got)
		}
		table := c.must("show", "sessions", "-o", "user,mac,circuit_id,state", "-sort", "-user")
		want := "" +
			"user   mac                circuit_id          state\n" +
			"tess                      olt7 eth 1/1/3:100  up\n" +
			"bobby  02:00:00:00:0c:03                      up\n" +
			"bob    02:00:00:00:0c:02                      up\n" +
			"alice  02:00:00:00:0c:01                      up\n"
		if diff := cmp.Diff(want, table); diff != "" {
			t.Errorf("show sessions table (-want +got)\n%s", diff)
		}
		if out := c.must("show", "tunnels"); !strings.Contains(out, "lac1") || !strings.Contains(out, "established") {
			t.Errorf("show tunnels:\n%s", out)
		}
		if out := c.must("show", "stats", "-match", "^bras_sessions$"); !strings.Contains(out, "state=up") {
			t.Errorf("show stats:\n%s", out)
		}
	})

	poolsMatch := func(t *testing.T) {
		t.Helper()
		eventually(t, "the pools count the sessions' addresses", func() bool {
			ss := c.sessions()
			inDefault, inBusiness := 0, 0
			for _, s := range ss {
				switch {
				case netip.MustParsePrefix("100.64.1.0/24").Contains(s.Addr):
					inDefault++
				case netip.MustParsePrefix("100.64.2.0/24").Contains(s.Addr):
					inBusiness++
				}
			}
			p := c.pools()
			return p["default"].Used == inDefault && p["business"].Used == inBusiness &&
				p["default"].Free == p["default"].Size-inDefault && p["business"].Free == p["business"].Size-inBusiness
		})
	}
	t.Run("pools", func(t *testing.T) {
		poolsMatch(t)
		want := "" +
			"name      family  length  shared  size  used  free\n" +
			"business  ipv4            false   11    1     10\n" +
			"default   ipv4            false   254   3     251\n"
		if diff := cmp.Diff(want, c.must("show", "pools")); diff != "" {
			t.Errorf("show pools (-want +got)\n%s", diff)
		}
	})

	t.Run("terminate by user", func(t *testing.T) {
		out := c.must("terminate", "-user", "bob")
		bob := subs["bob"]
		if !strings.HasPrefix(out, "terminated 1 session (admin-reset)\n") {
			t.Errorf("terminate -user bob: %q", out)
		}
		waitCDN(t, bob, 10*time.Second)
		eventually(t, "bob's session gone", func() bool { return len(c.sessions("-user", "bob")) == 0 })
		if diff := cmp.Diff([]string{"alice", "bobby", "tess"}, c.users("-sort", "user")); diff != "" {
			t.Errorf("sessions after terminating bob (-want +got)\n%s", diff)
		}
		for _, u := range []string{"alice", "bobby", "tess"} {
			select {
			case rc := <-subs[u].cdn:
				t.Errorf("%s got a CDN too: %v", u, rc.Describe(l2tp.MsgCDN))
			default:
			}
		}
		poolsMatch(t)
	})

	t.Run("terminate all without confirmation", func(t *testing.T) {
		_, err := c.run("terminate", "all")
		if !errors.Is(err, ctl.ErrNotConfirmed) || !strings.Contains(c.err.String(), "nothing was terminated") {
			t.Errorf("terminate all, not confirmed: %v, stderr %q", err, c.err.String())
		}
		c.env.Terminal, c.env.Stdin = true, strings.NewReader("n\n")
		_, err = c.run("terminate", "all")
		c.env.Terminal = false
		if !errors.Is(err, ctl.ErrNotConfirmed) {
			t.Errorf("terminate all, answered no: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
		if got := c.users(); len(got) != 3 {
			t.Errorf("sessions after an unconfirmed terminate all: %v", got)
		}
		// The API refuses it as well.
		if out := l.httpDo(t, "POST", "/api/v1/sessions/terminate", "tok"); !strings.Contains(out, " 400 ") {
			t.Errorf("POST terminate without a body: %s", out)
		}
	})

	t.Run("bad filter is 400", func(t *testing.T) {
		_, err := c.run("show", "sessions", "-user", "~(bob")
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, `parameter "user~": bad regular expression`) {
			t.Errorf("show sessions -user '~(bob': %v", err)
		}
		out := l.httpGet(t, "/api/v1/sessions?mac=banana", "tok")
		if !strings.Contains(out, " 400 ") || !strings.Contains(out, `"error": "parameter \"mac\": \"banana\" is not a MAC address (02:00:00:00:00:01)"`) {
			t.Errorf("GET ?mac=banana: %s", out)
		}
		if _, err := c.run("terminate", "-ip", "100.64"); err == nil || !strings.Contains(err.Error(), "400 Bad Request") {
			t.Errorf("terminate -ip 100.64: %v", err)
		}
	})

	t.Run("terminate all -yes", func(t *testing.T) {
		out := c.must("terminate", "all", "-yes")
		if !strings.HasPrefix(out, "terminated 3 sessions (admin-reset)\n") {
			t.Errorf("terminate all -yes: %q", out)
		}
		for _, u := range []string{"alice", "bobby", "tess"} {
			waitCDN(t, subs[u], 10*time.Second)
		}
		eventually(t, "no sessions left", func() bool { return len(c.sessions()) == 0 })
		poolsMatch(t)
	})
}

package l2tp

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
)

// tapConn records every datagram written through it.
type tapConn struct {
	net.PacketConn
	mu  sync.Mutex
	out [][]byte
}

func (c *tapConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, append([]byte(nil), b...))
	c.mu.Unlock()
	return c.PacketConn.WriteTo(b, a)
}

// sent returns the control messages written, decoded with secret.
func (c *tapConn) sent(t *testing.T, secret []byte) map[MsgType][]*Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	r := map[MsgType][]*Message{}
	for _, b := range c.out {
		h, m, err := ParseControl(b, secret)
		if err != nil {
			t.Fatalf("undecodable message on the wire: %v", err)
		}
		if h.Control && m != nil {
			r[m.Type] = append(r[m.Type], m)
		}
	}
	return r
}

// TestHideAVPsOnlyCredentials: with hide-avps, an LAC hides the proxy
// authentication AVPs that carry the subscriber's credentials in its
// ICCN, and the LNS reveals them (section 4.3); SCCRQ, SCCRP and SCCCN
// carry no hidden AVP at all, so a peer that looks its secret up after
// parsing them (xl2tpd, from the SCCRP) can read them; Proxy Authen
// Type and, without HideNumbers, Calling Number travel clear.
func TestHideAVPsOnlyCredentials(t *testing.T) {
	checkGoroutines(t)
	secret := []byte("hide-secret")
	opts := fastOpts(string(secret))
	opts.HideAVPs = true
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	lacConn, lnsConn := &tapConn{PacketConn: a}, &tapConn{PacketConn: b}
	lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
	lac, _ := NewEndpoint(lacConn, Config{HostName: "lac", Handler: lacRec, ShutdownTimeout: time.Second})
	lns, _ := NewEndpoint(lnsConn, Config{HostName: "lns", Handler: lnsRec, ShutdownTimeout: time.Second, Accept: acceptAll(opts)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range []*Endpoint{lac, lns} {
		wg.Add(1)
		go func() { defer wg.Done(); e.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait(); a.Close(); b.Close() }()
	waitFor(t, 5*time.Second, "running", func() bool { return lac.running.Load() && lns.running.Load() })

	tn, err := lac.Dial(ctx, lnsAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	challenge := []byte("0123456789abcdef")
	response := []byte("fedcba9876543210")
	_, err = tn.PlaceCall(CallRequest{
		ICRQ: []AVP{NewAVPString(AVPCallingNumber, "eth1.100:00:11:22:33:44:55")},
		ICCN: []AVP{
			NewAVPUint16(AVPProxyAuthenType, 2), // CHAP
			NewAVPString(AVPProxyAuthenName, "alice@example.net"),
			NewAVPBytes(AVPProxyAuthenChallenge, challenge),
			NewAVPUint16(AVPProxyAuthenID, 7),
			NewAVPBytes(AVPProxyAuthenResponse, response),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up", func() bool { return lnsRec.sessionsUp.Load() == 1 })

	for _, c := range []*tapConn{lacConn, lnsConn} {
		for typ, ms := range c.sent(t, secret) {
			for _, m := range ms {
				for _, x := range m.AVPs {
					hidden := x.Type == AVPProxyAuthenName || x.Type == AVPProxyAuthenChallenge || x.Type == AVPProxyAuthenID || x.Type == AVPProxyAuthenResponse
					if x.Hidden != hidden && x.Type != AVPRandomVector {
						t.Errorf("%v: %v hidden %v, want %v", typ, x.Type, x.Hidden, hidden)
					}
				}
			}
		}
	}
	lnsSent := lnsConn.sent(t, secret)
	if len(lnsSent[MsgSCCRP]) == 0 || len(lacConn.sent(t, secret)[MsgICCN]) == 0 {
		t.Fatal("no SCCRP or ICCN on the wire")
	}
	// The SCCRP decodes without the secret.
	lnsConn.sent(t, nil)
	// The LNS revealed what the LAC hid.
	lnsRec.mu.Lock()
	defer lnsRec.mu.Unlock()
	for _, iccn := range lnsRec.iccn {
		name, _ := iccn.Find(AVPProxyAuthenName)
		resp, _ := iccn.Find(AVPProxyAuthenResponse)
		if string(name.Value) != "alice@example.net" || string(resp.Value) != string(response) || !name.Hidden {
			t.Errorf("LNS ICCN: Proxy Authen Name %q (hidden %v), Response %q", name.Value, name.Hidden, resp.Value)
		}
	}
}

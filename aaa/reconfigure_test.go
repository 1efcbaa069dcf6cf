package aaa

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReconfigure: a reload's servers replace the old ones; a server that
// stays keeps its counters; a bad set is refused and the old one stays.
func TestReconfigure(t *testing.T) {
	c, err := NewClient(ClientConfig{NASIdentifier: "n", Servers: []Server{{Addr: "192.0.2.1:1812", Secret: []byte("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	c.set.Load().auth[0].accepts.Add(3)
	addrs := func() []string {
		var out []string
		for _, s := range c.ServerStats() {
			out = append(out, s.Kind+" "+s.Addr)
		}
		return out
	}
	if err := c.Reconfigure(ClientConfig{Servers: []Server{{Addr: "192.0.2.1:1812", Secret: []byte("a")}, {Addr: "192.0.2.2:1812", Secret: []byte("b")}},
		AcctServers: []Server{{Addr: "192.0.2.2:1813", Secret: []byte("b")}}}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"access 192.0.2.1:1812", "access 192.0.2.2:1812", "accounting 192.0.2.2:1813"}, addrs()); d != "" {
		t.Errorf("servers after Reconfigure (-want +got):\n%s", d)
	}
	if got := c.ServerStats()[0].Accepts; got != 3 {
		t.Errorf("the server that stayed has %d accepts, want its 3", got)
	}
	if err := c.Reconfigure(ClientConfig{Servers: []Server{{Addr: "192.0.2.3", Secret: []byte("c")}}}); err == nil {
		t.Error("a server without a port accepted")
	}
	if got := len(c.ServerStats()); got != 3 {
		t.Errorf("%d servers after a refused Reconfigure, want the 3 of before", got)
	}
}

// TestCoASetClients: requests from a client a reload removed are dropped.
func TestCoASetClients(t *testing.T) {
	s := NewCoAServer(nil, []DynamicClient{{Addr: netip.MustParsePrefix("192.0.2.0/24"), Secret: []byte("s")}}, nil, nil)
	s.SetClients([]DynamicClient{{Addr: netip.MustParsePrefix("198.51.100.0/24"), Secret: []byte("s")}})
	if resp := s.Handle(context.Background(), make([]byte, 20), netip.MustParseAddrPort("192.0.2.9:3799")); resp != nil {
		t.Errorf("answered a removed client")
	}
	if st := s.Stats(); st.UnknownClient != 1 {
		t.Errorf("UnknownClient = %d, want 1", st.UnknownClient)
	}
}

package lab

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAccessPorts: one access port up to 64,000 subscribers, another for
// each 64,000 more (a PPPoE port numbers 65,534 sessions); lac eth1 stays
// the tunnel link.
func TestAccessPorts(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []accessPort
	}{
		{1, []accessPort{{"eth0", "eth0"}}},
		{64000, []accessPort{{"eth0", "eth0"}}},
		{64001, []accessPort{{"eth0", "eth0"}, {"eth1", "eth2"}}},
		{128000, []accessPort{{"eth0", "eth0"}, {"eth1", "eth2"}}},
		{128001, []accessPort{{"eth0", "eth0"}, {"eth1", "eth2"}, {"eth2", "eth3"}}},
	} {
		if diff := cmp.Diff(tc.want, accessPorts(tc.n), cmp.AllowUnexported(accessPort{})); diff != "" {
			t.Errorf("accessPorts(%d) (-want +got):\n%s", tc.n, diff)
		}
	}
}

// TestSubscriberPool: the pool numbers every subscriber besides the LNS's
// own address (100.64.0.1), from the /16 of the lab's past up.
func TestSubscriberPool(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{100, "100.64.0.0/16"},
		{65533, "100.64.0.0/16"},
		{65534, "100.64.0.0/15"},
		{128000, "100.64.0.0/15"},
		{131070, "100.64.0.0/14"},
		{4000000, "100.64.0.0/10"},
	} {
		p := subscriberPool(tc.n)
		if p != netip.MustParsePrefix(tc.want) {
			t.Errorf("subscriberPool(%d) = %v, want %s", tc.n, p, tc.want)
		}
		// Network and broadcast addresses and the LNS's aside.
		if free := 1<<(32-p.Bits()) - 3; tc.n <= 4000000 && p.Bits() > 10 && free < tc.n {
			t.Errorf("subscriberPool(%d) = %v numbers only %d", tc.n, p, free)
		}
	}
}

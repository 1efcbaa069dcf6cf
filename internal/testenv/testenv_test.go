package testenv

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

func TestLinkedNamespacesPing(t *testing.T) {
	a := NewNetns(t, "ta")
	b := NewNetns(t, "tb")
	Link(t, a, "eth0", netip.MustParsePrefix("10.99.0.1/24"), b, "eth0", netip.MustParsePrefix("10.99.0.2/24"))
	a.MustRun(t, "ping", "-c1", "-W2", "10.99.0.2")
	name := a.Name
	var inside string
	if err := a.Do(func() error {
		out, err := exec.Command("ip", "-o", "addr", "show", "dev", "eth0").Output()
		inside = string(out)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inside, "10.99.0.1") {
		t.Fatalf("Do did not run inside %s: %q", name, inside)
	}
}

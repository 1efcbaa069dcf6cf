package testenv

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestFreeRADIUSFixture(t *testing.T) {
	radclient := RequireCommand(t, "radclient")
	f := StartFreeRADIUS(t, RadiusConfig{Users: []RadiusUser{{
		Name: "alice", Password: `pa"ss`,
		Reply: []RadiusAttr{{Name: "Framed-IP-Address", Value: "100.64.0.9"}, {Name: "Tunnel-Type", Tag: 1, Value: "L2TP"}},
	}}})
	run := func(kind, addr, attrs string) string {
		cmd := exec.Command(radclient, "-x", "-r", "1", "-t", "2", addr, kind, f.Secret)
		cmd.Stdin = strings.NewReader(attrs)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	out := run("auth", f.AuthAddr.String(), `User-Name = "alice", User-Password = "pa\"ss"`)
	if !strings.Contains(out, "Received Access-Accept") || !strings.Contains(out, "Framed-IP-Address = 100.64.0.9") || !strings.Contains(out, "Tunnel-Type:1 = L2TP") {
		t.Errorf("PAP with the right password:\n%s", out)
	}
	if out := run("auth", f.AuthAddr.String(), `User-Name = "alice", User-Password = "wrong"`); !strings.Contains(out, "Received Access-Reject") {
		t.Errorf("PAP with a wrong password:\n%s", out)
	}
	out = run("acct", f.AcctAddr.String(), `User-Name = "alice", Acct-Status-Type = Start, Acct-Session-Id = "S9", Tunnel-Type:1 = L2TP`)
	if !strings.Contains(out, "Received Accounting-Response") {
		t.Fatalf("accounting:\n%s", out)
	}
	recs := f.WaitAccountingRecords(t, 1, 2*time.Second)
	if len(recs) != 1 {
		t.Fatalf("%d detail records, want 1:\n%s", len(recs), strings.Join(f.DetailLines(), "\n"))
	}
	if got := recs[0].Get("Acct-Session-Id"); got != "S9" {
		t.Errorf("Acct-Session-Id %q in the detail file", got)
	}
	if got := recs[0].Get("Acct-Status-Type"); got != "Start" {
		t.Errorf("Acct-Status-Type %q in the detail file", got)
	}
	var tagged bool
	for _, a := range recs[0].Attrs {
		if a.Name == "Tunnel-Type" && a.Tag == 1 && a.Value == "L2TP" {
			tagged = true
		}
	}
	if !tagged {
		t.Errorf("tagged Tunnel-Type:1 not read back: %+v", recs[0].Attrs)
	}
}

func TestFreeRADIUSInNamespace(t *testing.T) {
	radclient := RequireCommand(t, "radclient")
	a := NewNetns(t, "rad")
	b := NewNetns(t, "nas")
	Link(t, a, "r0", netip.MustParsePrefix("10.99.0.1/30"), b, "n0", netip.MustParsePrefix("10.99.0.2/30"))
	f := StartFreeRADIUS(t, RadiusConfig{
		NS: a, Addr: netip.MustParseAddr("10.99.0.1"),
		Clients: []RadiusClient{{Name: "nas", Addr: netip.MustParsePrefix("10.99.0.2/32"), Secret: "nassecret"}},
		Users:   []RadiusUser{{Name: "bob", Password: "pw"}},
	})
	if f.AuthAddr.Port() != 1812 {
		t.Errorf("auth port %d, want 1812 in a namespace", f.AuthAddr.Port())
	}
	cmd := b.Command(radclient, "-x", "-r", "1", "-t", "2", f.AuthAddr.String(), "auth", "nassecret")
	cmd.Stdin = strings.NewReader(`User-Name = "bob", User-Password = "pw"`)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "Received Access-Accept") {
		t.Errorf("from the NAS namespace:\n%s", out)
	}
}

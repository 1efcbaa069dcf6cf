package radiuslab_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bras-project/bras/internal/radiuslab"
	"github.com/bras-project/bras/internal/testenv"
)

// TestDeployExampleParses loads the example users file of deploy/freeradius
// into a real FreeRADIUS (freeradius -C checks the configuration and
// instantiates the files module, which parses it).
func TestDeployExampleParses(t *testing.T) {
	bin := testenv.RequireCommand(t, radiuslab.Binary)
	c := radiuslab.Config{
		Dir:      t.TempDir(),
		AuthAddr: netip.MustParseAddrPort("127.0.0.1:18120"),
		AcctAddr: netip.MustParseAddrPort("127.0.0.1:18130"),
		Secret:   "s",
	}
	if err := radiuslab.Write(c); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../deploy/freeradius/authorize")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "users"), example, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-C", "-d", c.Dir).CombinedOutput(); err != nil {
		t.Fatalf("FreeRADIUS refuses deploy/freeradius/authorize: %v\n%s", err, out)
	}
	// The check must be able to fail: a broken entry is refused.
	if err := os.WriteFile(filepath.Join(c.Dir, "users"), append(example, "\nbroken  Cleartext-Password := \n\tNo-Such-Attribute = 1\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-C", "-d", c.Dir).CombinedOutput(); err == nil {
		t.Fatalf("FreeRADIUS accepted a broken users file:\n%s", out)
	}
}

package pglab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweep removes the directory of a cluster whose owner is dead and
// keeps the one of a live owner.
func TestSweep(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1)")
	}
	dead, live := mkOwned(t, cmd.Process.Pid), mkOwned(t, os.Getpid())
	sweep()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("dead owner's %s still there (%v)", dead, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live owner's %s removed: %v", live, err)
	}
}

func mkOwned(t *testing.T, pid int) string {
	d, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

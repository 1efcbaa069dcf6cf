package dataplane

import "testing"

// TestLoadObjects loads both objects into the kernel: the verifier accepts
// every program.
func TestLoadObjects(t *testing.T) {
	newTestWorld(t) // root check
	var lns lnsObjects
	if err := loadLnsObjects(&lns, nil); err != nil {
		t.Fatalf("lns: %v", err)
	}
	lns.Close()
	var lac lacObjects
	if err := loadLacObjects(&lac, nil); err != nil {
		t.Fatalf("lac: %v", err)
	}
	lac.Close()
}

package testenv

import (
	"log/slog"
	"testing"
)

// FailureLog returns a debug-level logger whose lines are kept in memory and
// printed only when the test fails: a flaky end-to-end run leaves the
// daemons' account of what happened, a passing one stays quiet.
func FailureLog(t testing.TB) *slog.Logger {
	t.Helper()
	w := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

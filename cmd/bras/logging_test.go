package main

import (
	"flag"
	"io"
	"testing"

	"github.com/bras-project/bras/internal/logx"
)

// TestLogLevelFlag: -log-level, when given, overrides [log] level; when
// not, the file's level stands.
func TestLogLevelFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "warn"},
		{[]string{"-log-level", "debug"}, "debug"},
	} {
		fs := flag.NewFlagSet("bras lns", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		level := fs.String("log-level", "", "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		l, err := newLogging(fs, logx.Settings{Level: "warn"}, *level)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := l.LogLevels(); got != tc.want {
			t.Errorf("%v: level %q, want %q", tc.args, got, tc.want)
		}
		l.Close()
	}
	fs := flag.NewFlagSet("bras lns", flag.ContinueOnError)
	level := fs.String("log-level", "", "")
	_ = fs.Parse([]string{"-log-level", "loud"})
	if _, err := newLogging(fs, logx.Settings{}, *level); err == nil {
		t.Error("-log-level loud: no error")
	}
}

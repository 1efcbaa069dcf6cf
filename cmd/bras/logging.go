package main

import (
	"flag"

	"github.com/bras-project/bras/internal/logx"
)

// newLogging makes a daemon's logging from its [log] section, on standard
// error; the -log-level flag, when given, overrides the section's level.
func newLogging(fs *flag.FlagSet, s logx.Settings, level string) (*logx.Logging, error) {
	var o logx.Options
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "log-level" {
			o.Level = level
		}
	})
	return logx.New(s, o)
}

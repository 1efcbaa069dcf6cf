package api

import (
	"runtime"
	"runtime/debug"

	"github.com/bras-project/bras/internal/metrics"
)

// Version is the build of a bras binary, from the Go build information.
type Version struct {
	Version    string `json:"version"`               // module version; "(devel)" for a build from a checkout
	Commit     string `json:"commit,omitempty"`      // VCS revision
	CommitTime string `json:"commit_time,omitempty"` // its time, RFC 3339
	Modified   bool   `json:"modified,omitempty"`    // built from a tree with changes not committed
	Go         string `json:"go"`                    // the Go toolchain
}

// version and commit may be set by the linker where the build has no VCS
// information (go build -buildvcs=false, a source tarball):
//
//	go build -ldflags "-X github.com/bras-project/bras/internal/api.version=v1.2.0 -X github.com/bras-project/bras/internal/api.commit=$(git rev-parse HEAD)" ./cmd/bras
var version, commit string

// BuildVersion returns the version of the running binary, from
// runtime/debug.ReadBuildInfo (and the linker's version and commit).
func BuildVersion() Version {
	v := Version{Version: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	var settings []debug.BuildSetting
	if ok {
		settings = bi.Settings
	}
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if version != "" {
		v.Version = version
	}
	if v.Commit == "" {
		v.Commit = commit
	}
	return v
}

// String is the one line `bras version` prints.
func (v Version) String() string {
	s := "bras " + v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " commit " + c
		if v.Modified {
			s += "+modified"
		}
		if v.CommitTime != "" {
			s += " (" + v.CommitTime + ")"
		}
	}
	return s + " " + v.Go
}

// RegisterBuildInfo exposes the build as bras_build_info, 1 with the
// version, VCS revision and Go toolchain as labels, the way Prometheus
// exporters do: a dashboard joins on it to show what runs where.
func RegisterBuildInfo(reg *metrics.Registry) {
	v := BuildVersion()
	reg.GaugeFunc(metrics.BuildInfo, "The bras build: 1, with its version, VCS revision and Go version as labels.",
		metrics.Labels{"version": v.Version, "revision": v.Commit, "go_version": v.Go}, func() float64 { return 1 })
}

package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sourceFile = `node-name = n1
[lns]
listen = 192.0.2.1:1701
[lns.radius.server "primary"]
address = 192.0.2.2:1812
secret = s1
[lac "a"]
allowed-from = 10.0.0.0/8, 10.1.0.0/16
allowed-from = 10.2.0.0/16
[lac "b"]
secret = s2
`

func TestSourceLines(t *testing.T) {
	var r root
	src, err := DecodeSource(strings.NewReader(sourceFile), "bras.conf", &r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path    string
		line    int
		display string
		set     bool
	}{
		{"node-name", 1, "node-name", true},
		{"lns.listen", 3, "lns.listen", true},
		{"lns.hello-interval", 2, "lns.hello-interval", false}, // not set: its section's line
		{"lns.radius.timeout", 2, "lns.radius.timeout", false}, // no [lns.radius] header: [lns]
		{"lns.radius.server[0].address", 5, `[lns.radius.server "primary"] address`, true},
		{"lns.radius.server[0]", 4, `[lns.radius.server "primary"]`, false},
		{"lac[1].secret", 11, `[lac "b"] secret`, true},
		{"lac[1].host-name", 10, `[lac "b"] host-name`, false},
		{"kinds.s", 0, "kinds.s", false}, // no [kinds] at all
	} {
		if got := src.Line(tt.path); got != tt.line {
			t.Errorf("Line(%q) = %d, want %d", tt.path, got, tt.line)
		}
		if got := src.Display(tt.path); got != tt.display {
			t.Errorf("Display(%q) = %q, want %q", tt.path, got, tt.display)
		}
		if got := src.IsSet(tt.path); got != tt.set {
			t.Errorf("IsSet(%q) = %v, want %v", tt.path, got, tt.set)
		}
	}
	// A list key repeated: each item keeps the line it was written on.
	for i, want := range []int{8, 8, 9} {
		if got := src.ItemLine("lac[0].allowed-from", i); got != want {
			t.Errorf("ItemLine(allowed-from, %d) = %d, want %d", i, got, want)
		}
	}
	err = src.Errorf("lac[1].secret", "too short (%d)", 2)
	if want := `bras.conf:11: [lac "b"] secret: too short (2)`; err == nil || err.Error() != want {
		t.Errorf("Errorf = %v, want %s", err, want)
	}
	if got, want := src.WhereItem("lac[0].allowed-from", 2), "bras.conf:9"; got != want {
		t.Errorf("WhereItem = %q, want %q", got, want)
	}
}

func TestDiff(t *testing.T) {
	var old, new root
	oldSrc, err := DecodeSource(strings.NewReader(sourceFile), "old.conf", &old)
	if err != nil {
		t.Fatal(err)
	}
	// lac "a" goes away, lac "c" comes, lac "b" moves up and changes
	// its secret; the RADIUS server moves; hello-interval is set.
	newSrc, err := DecodeSource(strings.NewReader(`node-name = n1
[lns]
listen = 192.0.2.1:1701
hello-interval = 30s
[lns.radius.server "primary"]
address = 192.0.2.3:1812
secret = s1
[lac "b"]
secret = s3
[lac "c"]
host-name = c
`), "new.conf", &new)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, c := range Diff(&old, &new, oldSrc, newSrc) {
		got = append(got, c.String())
	}
	want := []string{
		`new.conf:4: lns.hello-interval: 0s -> 30s`,
		`new.conf:6: [lns.radius.server "primary"] address: 192.0.2.2:1812 -> 192.0.2.3:1812`,
		`new.conf:9: [lac "b"] secret changed`,
		`new.conf:10: [lac "c"] added`,
		`old.conf:7: [lac "a"] removed`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	if c := Diff(&old, &old, oldSrc, oldSrc); len(c) != 0 {
		t.Errorf("Diff of a configuration with itself: %v", c)
	}
}

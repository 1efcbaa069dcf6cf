package dataplane

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestLayout: the Go mirrors of the shared map values (xdp.go) have the
// fields of the bpf2go types of both objects, in order and of the same
// types, so that the core reads and writes either object's maps.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		mirror any
		gen    []any
	}{
		{counterValue{}, []any{lnsDpCounters{}, lacDpCounters{}}},
		{policerValue{}, []any{lnsDpPolicer{}, lacDpPolicer{}}},
		{configValue{}, []any{lnsDpConfig{}, lacDpConfig{}}},
	} {
		want := fields(reflect.TypeOf(tc.mirror))
		for _, g := range tc.gen {
			if got := fields(reflect.TypeOf(g)); !reflect.DeepEqual(got, want) {
				t.Errorf("%T: fields %v, the mirror %T has %v", g, got, tc.mirror, want)
			}
			if a, b := reflect.TypeOf(g).Size(), reflect.TypeOf(tc.mirror).Size(); a != b {
				t.Errorf("%T is %d octets, %T %d", g, a, tc.mirror, b)
			}
		}
	}
}

// fields lists t's exported fields as name (in lower case: bpf2go spells
// L2tpPort what Go spells L2TPPort), kind and offset, in order (bpf2go's
// structs.HostLayout marker left out).
func fields(t reflect.Type) []string {
	var fs []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Size() == 0 {
			continue
		}
		fs = append(fs, fmt.Sprintf("%s %v @%d", strings.ToLower(f.Name), f.Type.Kind(), f.Offset))
	}
	return fs
}

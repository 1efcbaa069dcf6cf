package l2tp

import (
	"reflect"
	"testing"
)

// TestStatsEachListsEveryCounter: a counter added to Stats but not to Each
// would silently never be exported.
func TestStatsEachListsEveryCounter(t *testing.T) {
	var s Stats
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		v.Field(i).Addr().Interface().(interface{ Add(uint64) uint64 }).Add(uint64(i + 1))
	}
	seen := map[string]uint64{}
	s.Each(func(name string, val uint64) {
		if _, dup := seen[name]; dup {
			t.Errorf("name %q twice", name)
		}
		seen[name] = val
	})
	if len(seen) != v.NumField() {
		t.Fatalf("Each lists %d counters, Stats has %d", len(seen), v.NumField())
	}
	if seen["control_rx"] != 1 || seen["data_unknown_session"] == 0 || seen["stop_ccn_rx"] == 0 {
		t.Errorf("names/values: %v", seen)
	}
	sum := uint64(0)
	for _, x := range seen {
		sum += x
	}
	if n := uint64(v.NumField()); sum != n*(n+1)/2 {
		t.Errorf("values do not map one to one onto the fields")
	}
}

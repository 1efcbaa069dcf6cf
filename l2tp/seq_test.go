package l2tp

import "testing"

func TestSeqLess(t *testing.T) {
	// The example of RFC 2661 section 5.8: with 15 the last number received,
	// 0 through 15 and 32784 through 65535 are "less than or equal".
	for v := 0; v < 65536; v++ {
		le := !seqLess(15, uint16(v))
		want := v <= 15 || v >= 32784
		if le != want {
			t.Fatalf("seq %d vs last 15: less-or-equal=%v, want %v", v, le, want)
		}
	}
	tests := []struct {
		name string
		a, b uint16
		want bool
	}{
		{"equal", 7, 7, false},
		{"plain", 1, 2, true},
		{"plain reversed", 2, 1, false},
		{"wrap", 65535, 0, true},
		{"wrap reversed", 0, 65535, false},
		{"half window edge", 0, 32768, true},
		{"beyond half window", 0, 32769, false},
	}
	for _, tt := range tests {
		if got := seqLess(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: seqLess(%d, %d) = %v, want %v", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
	if d := seqDiff(65534, 2); d != 4 {
		t.Errorf("seqDiff(65534, 2) = %d, want 4", d)
	}
}

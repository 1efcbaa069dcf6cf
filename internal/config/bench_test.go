package config

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkDecodeReference(b *testing.B) {
	b.Setenv("BRAS_RADIUS_SECRET", "testing123")
	b.Setenv("BRAS_LAC1_SECRET", "tunnel-secret")
	src, err := os.ReadFile("testdata/reference.conf")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		var r root
		if err := Decode(bytes.NewReader(src), "reference.conf", &r); err != nil {
			b.Fatal(err)
		}
	}
}

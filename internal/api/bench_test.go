package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/config"
)

// BenchmarkListSessions lists 64,000 sessions (one LNS at the design's
// target) through the handler, as JSON and as CSV.
func BenchmarkListSessions(b *testing.B) {
	be := &fakeBackend{}
	for i := 0; i < 64000; i++ {
		be.sessions = append(be.sessions, Session{
			ID: fmt.Sprintf("%08x", i), User: fmt.Sprintf("user%d@isp", i), State: "up", LAC: "lac1",
			Addr: netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), TunnelID: 1, SessionID: uint16(i),
			Started: t0, InOctets: uint64(i) * 1000, OutOctets: uint64(i) * 3000, SessionTimeout: time.Hour,
		})
	}
	s, err := New(Config{Token: config.Secret(testToken), Backend: be})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, format := range []string{"json", "csv"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/api/v1/sessions?format="+format, nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}

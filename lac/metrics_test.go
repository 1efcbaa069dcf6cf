package lac

import (
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/metrics"
)

func TestRegisterMetrics(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l, err := New(Config{DataConn: conn})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	l.RegisterMetrics(reg)
	l.stats.CallsUp.Add(3)
	l.stats.Refused.Add(2)
	l.stats.PADTFromSub.Add(1)
	l.stats.EndsQueued.Add(4)
	l.active.Add(7)
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		metrics.LACSessions + " 7",
		metrics.LACCalls + `{result="up"} 3`,
		metrics.LACCalls + `{result="refused"} 2`,
		metrics.LACTeardowns + `{cause="subscriber_padt"} 1`,
		metrics.L2TPTunnels + `{version="2"} 0`, metrics.L2TPTunnels + `{version="3"} 0`,
		metrics.L2TPSocketDrops + " 0",
		metrics.TeardownsQueued + " 4",
		metrics.L2TPSocketBuffer + `{direction="receive"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}

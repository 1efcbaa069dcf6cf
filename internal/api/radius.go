package api

import (
	"net/http"
	"time"

	"github.com/bras-project/bras/aaa"
)

// RADIUSServer is the health of one configured RADIUS server as
// GET /api/v1/radius shows it.
type RADIUSServer struct {
	Addr string `json:"addr"` // host:port
	Kind string `json:"kind"` // "access" or "accounting"
	// Up is false while the server is held down after it left a request
	// unanswered; DeadUntil is when it will be tried again.
	Up        bool       `json:"up"`
	DeadUntil *time.Time `json:"dead_until,omitempty"`
	// LastLatencyMS is the round trip of the last request it answered,
	// in milliseconds (0 before the first), and LastAnswer when that was.
	LastLatencyMS float64    `json:"last_latency_ms"`
	LastAnswer    *time.Time `json:"last_answer,omitempty"`
	Accepts       uint64     `json:"accepts"`  // Access-Accept or Accounting-Response
	Rejects       uint64     `json:"rejects"`  // Access-Reject or Access-Challenge
	Timeouts      uint64     `json:"timeouts"` // requests it left unanswered
}

func (s *Server) radius(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.RADIUS == nil {
		writeError(w, http.StatusNotFound, "this daemon uses no RADIUS servers")
		return
	}
	writeJSONList(w, s.cfg.RADIUS())
}

// RADIUSOf reads the servers' health from a RADIUS client, for
// Config.RADIUS; nil (no endpoint) without a client.
func RADIUSOf(c *aaa.Client) func() []RADIUSServer {
	if c == nil {
		return nil
	}
	return func() []RADIUSServer {
		var out []RADIUSServer
		for _, s := range c.ServerStats() {
			r := RADIUSServer{Addr: s.Addr, Kind: s.Kind, Up: !s.Dead, Accepts: s.Accepts, Rejects: s.Rejects, Timeouts: s.Timeouts,
				LastLatencyMS: float64(s.LastLatency) / float64(time.Millisecond)}
			if s.Dead {
				du := s.DeadUntil.UTC()
				r.DeadUntil = &du
			}
			if !s.LastAnswer.IsZero() {
				la := s.LastAnswer.UTC()
				r.LastAnswer = &la
			}
			out = append(out, r)
		}
		return out
	}
}

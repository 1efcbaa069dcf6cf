package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// LogLevels are the daemon's log levels as GET and PUT /api/v1/log-level
// read and change them (internal/logx's Logging).
type LogLevels interface {
	// LogLevels is the default level and the component levels
	// ("l2tp=debug,radius=warn").
	LogLevels() (level, levels string)
	// SetLogLevels sets what is not nil, atomically; a bad value
	// changes nothing and the error says why.
	SetLogLevels(level, levels *string) error
}

// LogLevel is the answer of GET and PUT /api/v1/log-level.
type LogLevel struct {
	Level  string `json:"level"`  // the default level: debug, info, warn, error
	Levels string `json:"levels"` // the components' own levels: "l2tp=debug,radius=warn"; "" none
}

// LogLevelChange is the body of PUT /api/v1/log-level: what it gives
// changes, the rest stays. Levels replaces every component level ("" clears
// them).
type LogLevelChange struct {
	Level  *string `json:"level,omitempty"`
	Levels *string `json:"levels,omitempty"`
}

const maxLogLevelBody = 4 << 10

func (s *Server) getLogLevel(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	lv, lvs := s.cfg.LogLevels.LogLevels()
	writeJSON(w, http.StatusOK, LogLevel{Level: lv, Levels: lvs})
}

func (s *Server) putLogLevel(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	var req LogLevelChange
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLogLevelBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, BadRequest(fmt.Errorf(`body: want {"level": "info", "levels": "l2tp=debug,radius=warn"} (either or both): %v`, err)))
		return
	}
	if req.Level == nil && req.Levels == nil {
		s.fail(w, r, BadRequest(errors.New(`body: give "level", "levels" or both`)))
		return
	}
	if err := s.cfg.LogLevels.SetLogLevels(req.Level, req.Levels); err != nil {
		s.fail(w, r, BadRequest(err))
		return
	}
	lv, lvs := s.cfg.LogLevels.LogLevels()
	s.log.Info("api: log levels changed", "level", lv, "levels", lvs, "peer", r.RemoteAddr)
	writeJSON(w, http.StatusOK, LogLevel{Level: lv, Levels: lvs})
}

// LogLevel reads the daemon's log levels (GET /api/v1/log-level).
func (c *Client) LogLevel(ctx context.Context) (LogLevel, error) {
	var l LogLevel
	return l, c.getJSON(ctx, nil, &l, "api", "v1", "log-level")
}

// SetLogLevel changes them (PUT /api/v1/log-level) and returns the levels
// now in force.
func (c *Client) SetLogLevel(ctx context.Context, ch LogLevelChange) (LogLevel, error) {
	var l LogLevel
	resp, err := c.doBody(ctx, http.MethodPut, nil, "application/json", ch, "api", "v1", "log-level")
	if err != nil {
		return l, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&l); err != nil {
		return l, fmt.Errorf("api: decoding the answer of /api/v1/log-level: %w", err)
	}
	return l, nil
}

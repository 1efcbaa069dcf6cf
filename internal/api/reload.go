package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ReloadFunc re-reads and applies the daemon's configuration file (POST
// /api/v1/reload). A refusal is a *ReloadRefused; any other error is the
// daemon's own failure.
type ReloadFunc func(ctx context.Context) (ReloadResult, error)

// ReloadResult is the answer of an applied reload.
type ReloadResult struct {
	// Changes are what the reload changed, each "file:line: key: old ->
	// new" (secrets never print); empty when the file is unchanged.
	Changes []string `json:"changes"`
}

// ReloadRefused is a reload that changed nothing, with why: each reason
// names the file, the line and the key.
type ReloadRefused struct {
	Reasons []string `json:"reasons"`
}

func (e *ReloadRefused) Error() string {
	return "reload refused, the configuration in force is unchanged:\n" + strings.Join(e.Reasons, "\n")
}

// Refuse is a ReloadRefused of the lines of errs (an errors.Join of
// configuration errors prints one per line).
func Refuse(errs ...error) *ReloadRefused {
	e := &ReloadRefused{}
	for _, err := range errs {
		if err != nil {
			e.Reasons = append(e.Reasons, strings.Split(err.Error(), "\n")...)
		}
	}
	return e
}

// reloadRefusedBody is the 400 answer of a refused reload.
type reloadRefusedBody struct {
	Error   string   `json:"error"`
	Reasons []string `json:"reasons"`
}

// reload answers POST /api/v1/reload: 200 with the changes, 400 with the
// reasons of a refusal, 404 when the daemon cannot reload.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reload == nil {
		writeError(w, http.StatusNotFound, "this daemon does not reload")
		return
	}
	res, err := s.cfg.Reload(r.Context())
	var refused *ReloadRefused
	switch {
	case errors.As(err, &refused):
		writeJSON(w, http.StatusBadRequest, reloadRefusedBody{Error: "reload refused, the configuration in force is unchanged: " + strings.Join(refused.Reasons, "; "), Reasons: refused.Reasons})
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		if res.Changes == nil {
			res.Changes = []string{}
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// Reload asks the daemon to re-read its configuration file (POST
// /api/v1/reload). A refusal is returned as a *ReloadRefused with the
// reasons.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var res ReloadResult
	resp, err := c.doBody(ctx, http.MethodPost, nil, "application/json", nil, "api", "v1", "reload")
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.body != nil {
			var rb reloadRefusedBody
			if json.Unmarshal(ae.body, &rb) == nil && len(rb.Reasons) > 0 {
				return res, &ReloadRefused{Reasons: rb.Reasons}
			}
		}
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&res); err != nil {
		return res, fmt.Errorf("api: decoding the answer of /api/v1/reload: %w", err)
	}
	return res, nil
}

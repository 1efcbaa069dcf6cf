package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/table"
)

// Client calls the API; the bras CLI (internal/ctl: bras show, bras
// terminate, bras sessions, bras disconnect) is built on it.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// maxResponse bounds a response body the client reads.
const maxResponse = 256 << 20

// NewClient returns a client of the API at baseURL (such as
// "http://127.0.0.1:8080") with a bearer token. hc may be nil.
func NewClient(baseURL string, token []byte, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api: bad API URL %q (want http://host:port)", baseURL)
	}
	tok := strings.TrimSpace(string(token))
	if tok == "" {
		return nil, errors.New("api: no API token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, token: tok, http: hc}, nil
}

// Error is an error answer of the API.
type Error struct {
	Status  int    // HTTP status
	Message string // the server's message

	body []byte // the answer as it came, for the calls that read more of it
}

func (e *Error) Error() string {
	return fmt.Sprintf("api: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes a 404 match ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// do sends a request and decodes a JSON answer into out (when non-nil).
// The path is given as segments, each escaped on its own.
func (c *Client) do(ctx context.Context, method string, q url.Values, accept string, segs ...string) (*http.Response, error) {
	return c.doBody(ctx, method, q, accept, nil, segs...)
}

// doBody is do with a JSON request body (when body is non-nil).
func (c *Client) doBody(ctx context.Context, method string, q url.Values, accept string, body any, segs ...string) (*http.Response, error) {
	u := *c.base
	base := u.EscapedPath()
	for _, s := range segs {
		u.Path += "/" + s
		base += "/" + url.PathEscape(s)
	}
	u.RawPath = base
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb errorBody
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return nil, &Error{Status: resp.StatusCode, Message: msg, body: body}
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, q url.Values, out any, segs ...string) error {
	resp, err := c.do(ctx, http.MethodGet, q, "application/json", segs...)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("api: decoding the answer of /%s: %w", strings.Join(segs, "/"), err)
	}
	return nil
}

// Sessions lists the sessions that match f.
func (c *Client) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	ss, _, err := c.SessionsPage(ctx, f.Values())
	return ss, err
}

// SessionsPage lists the sessions a query of GET /api/v1/sessions selects
// (ParseSessionFilter's parameters, sent as they are so that the server
// judges them) and the total the filter matched before paging.
func (c *Client) SessionsPage(ctx context.Context, q url.Values) (ss []Session, total int, err error) {
	resp, err := c.do(ctx, http.MethodGet, q, "application/json", "api", "v1", "sessions")
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&ss); err != nil {
		return nil, 0, fmt.Errorf("api: decoding the answer of /api/v1/sessions: %w", err)
	}
	total = len(ss)
	if h := resp.Header.Get(TotalHeader); h != "" {
		if total, err = strconv.Atoi(h); err != nil {
			return nil, 0, fmt.Errorf("api: %s %q: %w", TotalHeader, h, err)
		}
	}
	return ss, total, nil
}

// Terminate ends the sessions req names (POST /api/v1/sessions/terminate).
func (c *Client) Terminate(ctx context.Context, req TerminateRequest) (TerminateResult, error) {
	var res TerminateResult
	resp, err := c.doBody(ctx, http.MethodPost, nil, "application/json", req, "api", "v1", "sessions", "terminate")
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&res); err != nil {
		return res, fmt.Errorf("api: decoding the answer of /api/v1/sessions/terminate: %w", err)
	}
	return res, nil
}

// Pools lists the address and prefix pools; a daemon without pools (the
// LAC) answers 404, which matches ErrNotFound.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var ps []Pool
	return ps, c.getJSON(ctx, nil, &ps, "api", "v1", "pools")
}

// Version returns the daemon's build.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	return v, c.getJSON(ctx, nil, &v, "api", "v1", "version")
}

// Stats returns the daemon's counters and gauges.
func (c *Client) Stats(ctx context.Context) ([]metrics.Sample, error) {
	var ss []metrics.Sample
	return ss, c.getJSON(ctx, nil, &ss, "api", "v1", "stats")
}

// Session returns one session; a 404 matches ErrNotFound.
func (c *Client) Session(ctx context.Context, id string) (Session, error) {
	var s Session
	return s, c.getJSON(ctx, nil, &s, "api", "v1", "sessions", id)
}

// Disconnect ends a session with cause Admin-Reset; a 404 matches
// ErrNotFound.
func (c *Client) Disconnect(ctx context.Context, id string) error {
	resp, err := c.do(ctx, http.MethodDelete, nil, "application/json", "api", "v1", "sessions", id)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Tunnels lists the L2TP tunnels.
func (c *Client) Tunnels(ctx context.Context) ([]Tunnel, error) {
	var ts []Tunnel
	return ts, c.getJSON(ctx, nil, &ts, "api", "v1", "tunnels")
}

// Report runs a named report and writes the server's CSV or JSON answer
// to w as it is (format table.CSV or table.JSON).
func (c *Client) Report(ctx context.Context, name string, q url.Values, format table.Format, w io.Writer) error {
	accept := "application/json"
	if format == table.CSV {
		accept = "text/csv"
	}
	resp, err := c.do(ctx, http.MethodGet, q, accept, "api", "v1", "reports", name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, io.LimitReader(resp.Body, maxResponse))
	return err
}

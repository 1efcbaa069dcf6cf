package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/table"
)

// DefaultListen is where the API listens unless configured: loopback only.
const DefaultListen = "127.0.0.1:8080"

// Config configures the API server.
type Config struct {
	// Listen is host:port; DefaultListen when empty. An address that is
	// not loopback is refused unless AllowRemote is set.
	Listen      string
	AllowRemote bool
	// Token is the bearer token every /api call must carry. Required.
	Token config.Secret
	// MetricsNeedToken makes /metrics require the token too.
	MetricsNeedToken bool
	Backend          Backend           // required
	Reports          Reports           // optional: /api/v1/reports answers 404 without it
	Metrics          *metrics.Registry // optional: /metrics and /api/v1/stats
	Health           func() error      // optional: /healthz is 503 with its error
	Reload           ReloadFunc        // optional: POST /api/v1/reload answers 404 without it
	Logger           *slog.Logger      // optional
	LogLevels        LogLevels         // optional: /api/v1/log-level answers 404 without it

	// RADIUS, when set, gives the RADIUS servers' health for
	// GET /api/v1/radius (404 without it).
	RADIUS func() []RADIUSServer
	// Setups, when set, serves GET /api/v1/setups (404 without it); Serve
	// runs it.
	Setups *SetupHistory
}

// Settings is the [api] section of the configuration file, decoded by
// internal/config:
//
//	[api]
//	listen = 127.0.0.1:8080        # default; a non-loopback address needs allow-remote
//	allow-remote = false
//	token = env:BRAS_API_TOKEN     # required: env:NAME, file:/path or the token itself
//	metrics-need-token = false     # true: /metrics wants the bearer token too
type Settings struct {
	Listen           string        `cfg:"listen"`
	AllowRemote      bool          `cfg:"allow-remote"`
	Token            config.Secret `cfg:"token"`
	MetricsNeedToken bool          `cfg:"metrics-need-token"`
}

// Validate checks what New would refuse, so that `bras lns -check` reports
// it with the place in the file.
func (s *Settings) Validate() error {
	if s.Token.Empty() {
		return errors.New("token is required (token = env:BRAS_API_TOKEN or file:/etc/bras/api-token)")
	}
	listen := s.Listen
	if listen == "" {
		listen = DefaultListen
	}
	return checkListen(listen, s.AllowRemote)
}

// Config returns the server configuration these settings describe; the
// caller adds the Backend, Reports, Metrics, Health and Logger.
func (s *Settings) Config() Config {
	return Config{Listen: s.Listen, AllowRemote: s.AllowRemote, Token: s.Token, MetricsNeedToken: s.MetricsNeedToken}
}

// Server is the HTTP API server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	tokenH  [sha256.Size]byte
	reqs    *metrics.CounterVec
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if err := checkListen(cfg.Listen, cfg.AllowRemote); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if cfg.Token.Empty() {
		return nil, errors.New("api: a bearer token is required")
	}
	if cfg.Backend == nil {
		return nil, errors.New("api: a Backend is required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, tokenH: sha256.Sum256(cfg.Token)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics != nil {
		s.reqs = cfg.Metrics.NewCounter(metrics.APIRequests, "HTTP API requests by status class.", "code")
	}
	s.handler = s.routes()
	return s, nil
}

// checkListen refuses an address that is not loopback unless allowed.
func checkListen(listen string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %v", listen, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not loopback; the API is local unless allow-remote is set", listen)
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.count)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	r.Get("/healthz", s.healthz)
	s.uiRoutes(r)
	if s.cfg.Metrics != nil {
		if s.cfg.MetricsNeedToken {
			r.With(s.auth).Method(http.MethodGet, "/metrics", s.cfg.Metrics.Handler())
		} else {
			r.Method(http.MethodGet, "/metrics", s.cfg.Metrics.Handler())
		}
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.auth)
		r.Get("/sessions", s.listSessions)
		r.Post("/sessions/terminate", s.terminate)
		r.Get("/sessions/{id}", s.getSession)
		r.Delete("/sessions/{id}", s.disconnect)
		r.Get("/tunnels", s.listTunnels)
		r.Delete("/tunnels/{id}", s.closeTunnel)
		r.Get("/stats", s.stats)
		r.Get("/pools", s.pools)
		r.Get("/version", s.version)
		r.Get("/reports/{name}", s.report)
		r.Get("/radius", s.radius)
		r.Get("/setups", s.setups)
		r.Post("/reload", s.reload)
		if s.cfg.LogLevels != nil {
			r.Get("/log-level", s.getLogLevel)
			r.Put("/log-level", s.putLogLevel)
		}
		// The Go runtime's profiles (heap, CPU, goroutines), for sizing a
		// box and finding a cost: go tool pprof with the bearer header.
		r.Get("/debug/pprof/*", pprofHandler)
	})
	return r
}

// pprofHandler serves net/http/pprof's index and profiles below
// /api/v1/debug/pprof/.
func pprofHandler(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/v1/debug/pprof/")
	switch name {
	case "":
		r.URL.Path = "/debug/pprof/"
		pprof.Index(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on cfg.Listen and serves until ctx is done, then shuts down
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully,
// waiting up to 5 s for requests in flight. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("api listening", "addr", ln.Addr().String())
	if h := s.cfg.Setups; h != nil {
		hctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { h.Run(hctx); close(done) }()
		defer func() { stop(); <-done }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

// auth requires "Authorization: Bearer <token>". The comparison is of
// SHA-256 digests in constant time, so neither the token nor its length
// leaks through timing.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bras"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)")
			return
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(got[:], s.tokenH[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bras", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid bearer token")
			s.log.Warn("api: request with an invalid token", "peer", r.RemoteAddr, "path", r.URL.Path)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for the request counter.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		if s.reqs != nil {
			s.reqs.With(fmt.Sprintf("%dxx", sw.status/100)).Inc()
		}
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "peer", r.RemoteAddr)
	})
}

// recoverer turns a panic in a backend into a 500 rather than a dropped
// connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("api: panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail answers with the status err calls for.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *BadRequestError
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "request cancelled or timed out: "+err.Error())
	default:
		s.log.Error("api: request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// wantFormat picks JSON or CSV from ?format= or the Accept header.
func wantFormat(r *http.Request) (table.Format, error) {
	if v, ok := r.URL.Query()["format"]; ok {
		if len(v) != 1 {
			return "", BadRequest(errors.New("parameter \"format\" given more than once"))
		}
		switch v[0] {
		case "json":
			return table.JSON, nil
		case "csv":
			return table.CSV, nil
		}
		return "", BadRequest(fmt.Errorf("parameter \"format\": %q is not json or csv", v[0]))
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return table.CSV, nil
		case "application/json":
			return table.JSON, nil
		}
	}
	return table.JSON, nil
}

// writeJSONList streams a list one element at a time: a list of 64,000
// sessions is never marshalled into one buffer.
func writeJSONList[T any](w http.ResponseWriter, items []T) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	bw.WriteString("[")
	for i := range items {
		if i > 0 {
			bw.WriteString(",")
		}
		if err := enc.Encode(items[i]); err != nil {
			break // a value that cannot be marshalled: a bug; the client sees truncated JSON
		}
	}
	bw.WriteString("]\n")
	_ = bw.Flush()
}

func writeCSV(w http.ResponseWriter, t *table.Table) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = t.Write(w, table.CSV)
}

// onlyParams refuses query parameters other than the allowed ones.
func onlyParams(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return BadRequest(fmt.Errorf("unknown parameter %q", k))
		}
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Health != nil {
		if err := s.cfg.Health(); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// TotalHeader is the response header of GET /api/v1/sessions that gives
// how many sessions the filter matched, before offset and limit.
const TotalHeader = "X-Total-Count"

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	f, err := ParseSessionFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format, err := wantFormat(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ss, err := s.matching(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := SortSessions(ss, f.Sort); err != nil {
		s.fail(w, r, BadRequest(err))
		return
	}
	total := len(ss)
	ss = ss[min(f.Offset, len(ss)):]
	if f.Limit > 0 && len(ss) > f.Limit {
		ss = ss[:f.Limit]
	}
	if ss == nil {
		ss = []Session{}
	}
	w.Header().Set(TotalHeader, strconv.Itoa(total))
	if format == table.CSV {
		writeCSV(w, SessionsTable(ss))
		return
	}
	writeJSONList(w, ss)
}

// matching asks the backend for every session f selects: the paging is
// the server's, after sorting.
func (s *Server) matching(ctx context.Context, f SessionFilter) ([]Session, error) {
	f.Sort, f.Offset, f.Limit = "", 0, 0
	ss, err := s.cfg.Backend.Sessions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := ss[:0]
	for _, x := range ss {
		if f.Match(x) { // a backend may filter on part of f only
			out = append(out, x)
		}
	}
	return out, nil
}

// maxTerminateBody bounds the body of POST /api/v1/sessions/terminate.
const maxTerminateBody = 64 << 10

// terminateWorkers is how many disconnects a terminate has in flight.
const terminateWorkers = 8

func (s *Server) terminate(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	var req TerminateRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxTerminateBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, BadRequest(fmt.Errorf("body: want {\"filter\": {...}} or {\"all\": true, \"confirm\": true}: %v", err)))
		return
	}
	q := url.Values{}
	for k, v := range req.Filter {
		q.Set(k, v)
	}
	f, err := ParseSelector(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case req.All && !f.Empty():
		s.fail(w, r, BadRequest(errors.New("\"all\" and a filter together: give one of them")))
		return
	case !req.All && f.Empty():
		s.fail(w, r, BadRequest(errors.New("no filter: name the sessions (filter "+strings.Join(fieldList(), ", ")+") or give \"all\": true with \"confirm\": true")))
		return
	case req.All && !req.Confirm && !req.DryRun:
		s.fail(w, r, BadRequest(errors.New("terminating all sessions needs \"confirm\": true; nothing was terminated")))
		return
	}
	ss, err := s.matching(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_ = SortSessions(ss, "")
	res := TerminateResult{Matched: len(ss), IDs: []string{}, DryRun: req.DryRun}
	if req.DryRun {
		for _, x := range ss {
			res.IDs = append(res.IDs, x.ID)
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	res.IDs, res.Errors = s.disconnectAll(r.Context(), ss)
	res.Terminated = len(res.IDs)
	s.log.Info("sessions terminated through the API", "matched", res.Matched, "terminated", res.Terminated,
		"failed", len(res.Errors), "filter", f.Values().Encode(), "all", req.All, "cause", CauseAdminReset, "peer", r.RemoteAddr)
	writeJSON(w, http.StatusOK, res)
}

// disconnectAll ends the sessions with cause Admin-Reset, a few at a time.
// A session that ended meanwhile (ErrNotFound) is neither ended nor an
// error.
func (s *Server) disconnectAll(ctx context.Context, ss []Session) (ended, errs []string) {
	type outcome struct {
		id  string
		err error
	}
	work := make(chan string)
	out := make(chan outcome, len(ss))
	var wg sync.WaitGroup
	for range min(terminateWorkers, len(ss)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				out <- outcome{id, s.cfg.Backend.Disconnect(ctx, id, CauseAdminReset)}
			}
		}()
	}
	for _, x := range ss {
		work <- x.ID
	}
	close(work)
	wg.Wait()
	close(out)
	for o := range out {
		switch {
		case o.err == nil:
			ended = append(ended, o.id)
		case errors.Is(o.err, ErrNotFound):
		default:
			errs = append(errs, o.id+": "+o.err.Error())
		}
	}
	slices.Sort(ended)
	slices.Sort(errs)
	if ended == nil {
		ended = []string{}
	}
	return ended, errs
}

func fieldList() []string {
	var n []string
	for _, f := range Fields {
		n = append(n, f.String())
	}
	return n
}

func (s *Server) pools(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r, "format"); err != nil {
		s.fail(w, r, err)
		return
	}
	format, err := wantFormat(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pl, ok := s.cfg.Backend.(PoolLister)
	if !ok {
		writeError(w, http.StatusNotFound, "this daemon has no address pools")
		return
	}
	ps, err := pl.Pools(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, format, ps, PoolsTable)
}

// writeList answers a list endpoint: a CSV table when asked for one,
// otherwise a JSON array ([] when there is nothing).
func writeList[T any](w http.ResponseWriter, format table.Format, items []T, asTable func([]T) *table.Table) {
	if items == nil {
		items = []T{}
	}
	if format == table.CSV {
		writeCSV(w, asTable(items))
		return
	}
	writeJSONList(w, items)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BuildVersion())
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	id := pathParam(r, "id")
	sess, err := s.cfg.Backend.Session(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("session %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) disconnect(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	id := pathParam(r, "id")
	err := s.cfg.Backend.Disconnect(r.Context(), id, CauseAdminReset)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("session %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("session disconnected through the API", "acct_session_id", id, "cause", CauseAdminReset, "peer", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// closeTunnel is DELETE /api/v1/tunnels/{id}: a StopCCN on the tunnel of
// that local Tunnel ID.
func (s *Server) closeTunnel(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	tc, ok := s.cfg.Backend.(TunnelCloser)
	if !ok {
		writeError(w, http.StatusNotFound, "this daemon does not clear tunnels")
		return
	}
	id, err := strconv.ParseUint(pathParam(r, "id"), 10, 16)
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("tunnel %q: want a local Tunnel ID, 1 to 65535", pathParam(r, "id")))
		return
	}
	err = tc.CloseTunnel(r.Context(), uint16(id))
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tunnel %d not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("tunnel cleared through the API", "tunnel_id", id, "peer", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTunnels(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r, "format"); err != nil {
		s.fail(w, r, err)
		return
	}
	format, err := wantFormat(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ts, err := s.cfg.Backend.Tunnels(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, format, ts, TunnelsTable)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	samples := []metrics.Sample{}
	if s.cfg.Metrics != nil {
		samples = append(samples, s.cfg.Metrics.Samples()...)
	}
	writeJSON(w, http.StatusOK, samples)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "name")
	if s.cfg.Reports == nil {
		writeError(w, http.StatusNotFound, "reports are not configured")
		return
	}
	format, err := wantFormat(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	q.Del("format")
	t, err := s.cfg.Reports.Report(r.Context(), name, q)
	if errors.Is(err, ErrNotFound) {
		var bad *BadRequestError
		if !errors.As(err, &bad) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("report %q not found", name))
			return
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if format == table.CSV {
		writeCSV(w, t)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = t.Write(w, table.JSON)
}

// pathParam returns a path parameter unescaped: chi routes on the escaped
// path when the request has one (an ID holding "/" sent as %2F).
func pathParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/config"
)

// syncBuffer is a bytes.Buffer the loggers of several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// lines parses every line of out as one JSON object.
func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var got []map[string]any
	for _, ln := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, ln)
		}
		got = append(got, m)
	}
	return got
}

func newJSON(t *testing.T, s Settings, o Options) (*Logging, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	s.Format = "json"
	o.Output = &buf
	l, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, &buf
}

// TestJSONLines: with format json every line is one JSON object with the
// time, level, message, the logger's attributes, the line's own and the
// component once, even when a logger derived from another changes it.
func TestJSONLines(t *testing.T) {
	l, buf := newJSON(t, Settings{Level: "debug"}, Options{})
	sess := l.Logger().With(KeyComponent, LNS).With(KeyAcctSessionID, "e2e-1", KeyTunnelID, 7)
	sess.Info(MsgSessionUp, KeyUser, "alice", KeyIP, "100.64.1.2", "err", errors.New("none"))
	sess.With(KeyComponent, PPP).Debug("LCP opened", "mru", 1460)
	l.Logger().Warn("no component")

	out := buf.String()
	got := lines(t, out)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(got), out)
	}
	for i, m := range got {
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"])); err != nil {
			t.Errorf("line %d: time %v: %v", i, m["time"], err)
		}
		delete(m, "time")
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "session up", "component": "lns", "acct_session_id": "e2e-1", "tunnel_id": float64(7),
			"user": "alice", "ip": "100.64.1.2", "err": "none"},
		{"level": "DEBUG", "msg": "LCP opened", "component": "ppp", "acct_session_id": "e2e-1", "tunnel_id": float64(7), "mru": float64(1460)},
		{"level": "WARN", "msg": "no component"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got)\n%s", diff)
	}
	// A JSON object may not repeat a key: the component is written once.
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n")[:2] {
		if n := strings.Count(ln, `"component":`); n != 1 {
			t.Errorf("component written %d times: %s", n, ln)
		}
	}
}

// TestTextFormat: the default format is log/slog's key=value text with the
// component.
func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Settings{}, Options{Output: &buf})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Logger().With(KeyComponent, L2TP).Info("tunnel up", KeyTunnelID, 3)
	if got := buf.String(); !strings.Contains(got, ` level=INFO msg="tunnel up" tunnel_id=3 component=l2tp`+"\n") {
		t.Errorf("text line %q", got)
	}
}

// TestComponentLevels: a component's own level filters its lines, the
// others follow the default level.
func TestComponentLevels(t *testing.T) {
	l, buf := newJSON(t, Settings{Level: "info", Levels: []string{"l2tp=debug", "radius=warn"}}, Options{})
	log := l.Logger()
	for _, c := range []struct {
		comp  string
		level slog.Level
	}{
		{L2TP, slog.LevelDebug}, {L2TP, slog.LevelInfo},
		{RADIUS, slog.LevelInfo}, {RADIUS, slog.LevelWarn},
		{LNS, slog.LevelDebug}, {LNS, slog.LevelInfo},
		{"", slog.LevelDebug}, {"", slog.LevelError},
		{PPP, slog.LevelDebug},
	} {
		lg := log
		if c.comp != "" {
			lg = log.With(KeyComponent, c.comp)
		}
		lg.Log(t.Context(), c.level, c.comp+" "+c.level.String())
	}
	var got []string
	for _, m := range lines(t, buf.String()) {
		got = append(got, m["msg"].(string))
	}
	want := []string{"l2tp DEBUG", "l2tp INFO", "radius WARN", "lns INFO", " ERROR"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines written (-want +got)\n%s", diff)
	}
	if lv, lvs := l.LogLevels(); lv != "info" || lvs != "l2tp=debug,radius=warn" {
		t.Errorf("LogLevels() = %q, %q", lv, lvs)
	}
}

// TestSetLevels: a spec sets the default level and replaces the component
// levels; a bad one changes nothing and says why.
func TestSetLevels(t *testing.T) {
	l, _ := newJSON(t, Settings{Level: "warn", Levels: []string{"ppp=debug"}}, Options{})
	for _, tc := range []struct {
		spec        string
		err         string
		level, lvls string
	}{
		{spec: "l2tp=debug, aaa=error", level: "warn", lvls: "l2tp=debug,radius=error"},
		{spec: "info", level: "info", lvls: ""},
		{spec: "DEBUG,pppoe=warning", level: "debug", lvls: "pppoe=warn"},
		{spec: "", level: "debug", lvls: ""},
		{spec: "verbose", err: `log: bad level "verbose": want debug, info, warn or error`, level: "debug"},
		{spec: "l2pt=debug", err: `log: "l2pt=debug": unknown component "l2pt" (want one of api, accounting, dataplane, l2tp, lac, lns, ppp, pppoe, radius)`, level: "debug"},
		{spec: "l2tp=loud", err: `log: "l2tp=loud": bad level "loud": want debug, info, warn or error`, level: "debug"},
		{spec: "info,warn", err: `log: "warn": a second default level (the first is info)`, level: "debug"},
		{spec: "l2tp=info,l2tp=debug", err: `log: "l2tp=debug": component l2tp given twice`, level: "debug"},
	} {
		err := l.SetLevels(tc.spec)
		if got := fmt.Sprint(err); (tc.err == "" && err != nil) || (tc.err != "" && got != tc.err) {
			t.Errorf("SetLevels(%q) = %v, want %q", tc.spec, err, tc.err)
		}
		if lv, lvs := l.LogLevels(); lv != tc.level || lvs != tc.lvls {
			t.Errorf("after SetLevels(%q): %q, %q; want %q, %q", tc.spec, lv, lvs, tc.level, tc.lvls)
		}
	}
}

// TestSetLogLevels: the API's change sets what it is given and keeps the
// rest; "" clears the component levels.
func TestSetLogLevels(t *testing.T) {
	l, _ := newJSON(t, Settings{Levels: []string{"ppp=debug"}}, Options{})
	s := func(v string) *string { return &v }
	steps := []struct {
		level, levels *string
		err           string
		want          [2]string
	}{
		{level: s("warn"), want: [2]string{"warn", "ppp=debug"}},
		{levels: s("l2tp=debug,lac=error"), want: [2]string{"warn", "l2tp=debug,lac=error"}},
		{level: s("error"), levels: s(""), want: [2]string{"error", ""}},
		{level: s("nope"), levels: s("l2tp=debug"), err: `level: bad level "nope": want debug, info, warn or error`, want: [2]string{"error", ""}},
		{level: s("info"), levels: s("l2tp"), err: `levels: "l2tp": want component=level, such as l2tp=debug`, want: [2]string{"error", ""}},
	}
	for i, st := range steps {
		err := l.SetLogLevels(st.level, st.levels)
		if got := fmt.Sprint(err); (st.err == "" && err != nil) || (st.err != "" && got != st.err) {
			t.Errorf("step %d: %v, want %q", i, err, st.err)
		}
		if lv, lvs := l.LogLevels(); [2]string{lv, lvs} != st.want {
			t.Errorf("step %d: levels %q, %q; want %q", i, lv, lvs, st.want)
		}
	}
}

// TestSetLevelsConcurrent changes the levels while eight goroutines log
// (run with -race): every line written is whole, and once SetLevels
// returns its levels decide what is written.
func TestSetLevelsConcurrent(t *testing.T) {
	l, buf := newJSON(t, Settings{Level: "info"}, Options{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 8 {
		comp := Components[i%len(Components)]
		log := l.Logger().With(KeyComponent, comp, "worker", i)
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				log.Debug("tick", "n", n)
				log.Info("tock", "n", n)
			}
		})
	}
	for i := range 200 {
		spec := "info"
		if i%2 == 1 {
			spec = "warn, l2tp=debug, ppp=debug"
		}
		if err := l.SetLevels(spec); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	lines(t, buf.String()) // every line parses

	if err := l.SetLevels("error,api=debug"); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	for _, c := range Components {
		l.Logger().With(KeyComponent, c).Debug("after", "c", c)
		l.Logger().With(KeyComponent, c).Warn("after warn", "c", c)
	}
	got := lines(t, buf.String())
	if len(got) != 2 || got[0]["component"] != API || got[1]["component"] != API {
		t.Errorf("after SetLevels(error,api=debug): %v", got)
	}
}

// TestApply: a reload applies the level and levels at once; a new format
// is refused as a KeyError and changes nothing; the -log-level flag keeps
// its level over the file's.
func TestApply(t *testing.T) {
	l, _ := newJSON(t, Settings{Level: "info"}, Options{})
	if err := l.Apply(Settings{Format: "json", Level: "debug", Levels: []string{"radius=error"}}); err != nil {
		t.Fatal(err)
	}
	if lv, lvs := l.LogLevels(); lv != "debug" || lvs != "radius=error" {
		t.Errorf("after Apply: %q, %q", lv, lvs)
	}
	err := l.Apply(Settings{Format: "text", Level: "warn"})
	var ke *config.KeyError
	if !errors.As(err, &ke) || ke.Key != "format" || !errors.Is(err, ErrFormatFixed) {
		t.Errorf("Apply with a new format: %v", err)
	}
	if lv, lvs := l.LogLevels(); lv != "debug" || lvs != "radius=error" {
		t.Errorf("after a refused Apply: %q, %q", lv, lvs)
	}
	if err := l.Apply(Settings{Format: "json", Levels: []string{"radius=loud"}}); err == nil {
		t.Error("Apply with a bad level: no error")
	}

	pinned, _ := newJSON(t, Settings{Level: "warn"}, Options{Level: "debug"})
	if lv, _ := pinned.LogLevels(); lv != "debug" {
		t.Errorf("-log-level debug over level = warn: %q", lv)
	}
	if err := pinned.Apply(Settings{Format: "json", Level: "error", Levels: []string{"l2tp=info"}}); err != nil {
		t.Fatal(err)
	}
	if lv, lvs := pinned.LogLevels(); lv != "debug" || lvs != "l2tp=info" {
		t.Errorf("pinned after Apply: %q, %q", lv, lvs)
	}
	if _, err := New(Settings{}, Options{Level: "chatty"}); err == nil || !strings.Contains(err.Error(), "-log-level") {
		t.Errorf("New with -log-level chatty: %v", err)
	}
}

// TestSettingsInFile: the [log] keys decode from a file and a bad value is
// an error at its line.
func TestSettingsInFile(t *testing.T) {
	type file struct {
		Log Settings `cfg:"log"`
	}
	var f file
	err := config.Decode(strings.NewReader("[log]\nformat = json\nlevel = warn\nlevels = l2tp=debug, radius=error\n"), "x.conf", &f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Settings{Format: "json", Level: "warn", Levels: []string{"l2tp=debug", "radius=error"}}, f.Log); diff != "" {
		t.Errorf("decoded (-want +got)\n%s", diff)
	}
	err = config.Decode(strings.NewReader("[log]\nformat = xml\nlevel = warn\nlevels = l2tp=debug, ldap=info\n"), "x.conf", &file{})
	for _, want := range []string{
		`x.conf:2: log.format: "xml": want text or json`,
		`x.conf:4: log.levels: "ldap=info": unknown component "ldap"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decode error %v; want it to say %q", err, want)
		}
	}
}

// fakeClock runs the limiter's timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock and runs the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// TestLimiter: of a burst of identical warnings the first Burst are
// written, the rest counted and reported in one line at the end of the
// interval; other messages, other components and lines below warning are
// not held back; after the report a new interval starts; Close reports
// what is still held.
func TestLimiter(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l, buf := newJSON(t, Settings{}, Options{Burst: 3, Interval: 10 * time.Second, Clock: clock})
	lns := l.Logger().With(KeyComponent, LNS)
	lac := l.Logger().With(KeyComponent, LAC)
	msgs := func() []string {
		var got []string
		for _, m := range lines(t, buf.String()) {
			s := fmt.Sprintf("%s %s %v", m["level"], m["msg"], m["component"])
			if r, ok := m["repeated"]; ok {
				s += fmt.Sprintf(" repeated=%v", r)
			}
			got = append(got, s)
		}
		buf.Reset()
		return got
	}

	for i := range 100 {
		lns.Warn(MsgAddressRefused, KeyAcctSessionID, fmt.Sprint(i))
		if i == 50 {
			lns.Error(MsgAddressRefused) // same message: one key, the report takes the higher level
		}
		lns.Info("session up")
		clock.Advance(10 * time.Millisecond)
	}
	for range 5 {
		lac.Warn(MsgAddressRefused) // another component: its own count
		lns.Warn("tunnel refused: unknown LAC")
	}
	want := []string{
		"WARN address refused lns", "INFO session up lns",
		"WARN address refused lns", "INFO session up lns",
		"WARN address refused lns", "INFO session up lns",
	}
	for range 97 {
		want = append(want, "INFO session up lns")
	}
	want = append(want,
		"WARN address refused lac", "WARN tunnel refused: unknown LAC lns",
		"WARN address refused lac", "WARN tunnel refused: unknown LAC lns",
		"WARN address refused lac", "WARN tunnel refused: unknown LAC lns",
	)
	if diff := cmp.Diff(want, msgs()); diff != "" {
		t.Fatalf("lines during the burst (-want +got)\n%s", diff)
	}

	clock.Advance(9 * time.Second) // 10 s after the first line
	if diff := cmp.Diff([]string{"ERROR address refused (repeated 98 times in 10s) lns repeated=98"}, msgs()); diff != "" {
		t.Errorf("report at the end of the interval (-want +got)\n%s", diff)
	}
	clock.Advance(time.Second) // 10 s after the first of the other two
	wantEnd := []string{
		"WARN address refused (repeated 2 times in 10s) lac repeated=2",
		"WARN tunnel refused: unknown LAC (repeated 2 times in 10s) lns repeated=2",
	}
	if diff := cmp.Diff(wantEnd, slices.Sorted(slices.Values(msgs()))); diff != "" {
		t.Errorf("reports of the other keys (-want +got)\n%s", diff)
	}

	// A new interval: the first three are written again.
	for range 4 {
		lns.Warn(MsgAddressRefused)
	}
	if got := msgs(); len(got) != 3 {
		t.Errorf("next interval: %d lines written, want 3: %v", len(got), got)
	}
	clock.Advance(2 * time.Second)
	l.Close()
	if diff := cmp.Diff([]string{"WARN address refused (repeated 1 times in 2s) lns repeated=1"}, msgs()); diff != "" {
		t.Errorf("Close (-want +got)\n%s", diff)
	}
	clock.Advance(time.Minute) // the stopped timer reports nothing more
	lns.Warn(MsgAddressRefused)
	if got := msgs(); len(got) != 1 {
		t.Errorf("after Close: %v", got)
	}
}

// TestLimiterQuiet: a message that comes back after a quiet interval is
// written again from the start, with no report.
func TestLimiterQuiet(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	l, buf := newJSON(t, Settings{}, Options{Burst: 2, Interval: time.Second, Clock: clock})
	for range 3 {
		l.Logger().Error("spool write failed")
		l.Logger().Error("spool write failed")
		clock.Advance(1500 * time.Millisecond)
	}
	got := lines(t, buf.String())
	if len(got) != 6 {
		t.Errorf("%d lines, want 6 (two per quiet interval, no report): %v", len(got), got)
	}
}

// TestLoggerAttrs: a session's logger (attributes given once, then a PPP
// logger derived from it with another component) writes its attributes
// before the line's own, the last component once, and a group's attributes
// inside the group; deriving it keeps the attributes as given instead of
// preformatting them, at under 400 octets a session logger.
func TestLoggerAttrs(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Settings{}, Options{Output: &buf})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sess := l.Logger().With(KeyComponent, LNS).With(KeyAcctSessionID, "0000a1", KeyTunnelID, 3, KeySessionID, 7)
	pppLog := sess.With(KeyComponent, PPP)
	pppLog.Info("lcp up", "mru", 1492)
	sess.WithGroup("radius").With("server", "lab").Info("reply", "code", 2)
	want := []string{
		` level=INFO msg="lcp up" acct_session_id=0000a1 tunnel_id=3 session_id=7 mru=1492 component=ppp` + "\n",
		` level=INFO msg=reply acct_session_id=0000a1 tunnel_id=3 session_id=7 component=lns radius.server=lab radius.code=2` + "\n",
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, w := range want {
		if i >= len(lines) || !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %q, want it to end %q", i, lines[min(i, len(lines)-1)], w)
		}
	}

	base := l.Logger().With(KeyComponent, LNS)
	const n = 1000
	keep := make([]*slog.Logger, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		s := base.With(KeyAcctSessionID, "0000a1", KeyTunnelID, i, KeySessionID, i, KeyPeer, "10.255.1.1:1701", KeyLAC, "lab-lac")
		keep[i] = s.With(KeyComponent, PPP)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n; per > 400 {
		t.Errorf("a session's two loggers hold %d octets, want under 400", per)
	}
	runtime.KeepAlive(keep)
}

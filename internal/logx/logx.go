package logx

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/config"
)

// Settings is the [log] section of both daemons' configuration files,
// decoded by internal/config:
//
//	[log]
//	format = text                 # text (default) or json: one JSON object a line
//	level = info                  # debug, info (default), warn or error
//	levels = l2tp=debug, radius=warn   # a component's own level; default none
//
// The level and the levels can change while the daemon runs (a reload,
// PUT /api/v1/log-level, bras log-level); the format cannot: changing it
// needs a restart.
type Settings struct {
	Format string   `cfg:"format"`
	Level  string   `cfg:"level"`
	Levels []string `cfg:"levels"`
}

// Validate checks the section, so that -check reports a bad value at its
// line.
func (s *Settings) Validate() error {
	var errs []error
	if _, err := ParseFormat(s.Format); err != nil {
		errs = append(errs, &config.KeyError{Key: "format", Err: err})
	}
	if s.Level != "" {
		if _, err := ParseLevel(s.Level); err != nil {
			errs = append(errs, &config.KeyError{Key: "level", Err: err})
		}
	}
	if _, err := parseComponents(s.Levels); err != nil {
		errs = append(errs, &config.KeyError{Key: "levels", Err: err})
	}
	return errors.Join(errs...)
}

// Format is how a line is written.
type Format string

const (
	Text Format = "text" // key=value pairs (log/slog's TextHandler)
	JSON Format = "json" // one JSON object per line (log/slog's JSONHandler)
)

// ParseFormat reads log.format; "" is Text.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "text":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return "", fmt.Errorf("%q: want text or json", s)
}

// ParseLevel reads a level: debug, info, warn (or warning) or error, in
// any case, optionally with an offset as log/slog writes it (info+2).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "warning") {
		t = "warn"
	}
	if t == "" || l.UnmarshalText([]byte(t)) != nil {
		return 0, fmt.Errorf("bad level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func levelName(l slog.Level) string { return strings.ToLower(l.String()) }

// ErrFormatFixed is the error of Apply for a configuration whose format
// differs from the running one.
var ErrFormatFixed = errors.New("cannot change while the daemon runs: restart it to change the format (the level and levels change live)")

// Options are what the daemon, not its configuration file, decides.
type Options struct {
	// Output receives the lines; nil: standard error.
	Output io.Writer
	// Level, when set (the -log-level flag), overrides the file's level,
	// at start and on every Apply.
	Level string
	// Burst is how many identical warnings or errors (same message, same
	// component) are written per Interval before the rest are counted;
	// 0: DefaultBurst. Interval 0: DefaultInterval.
	Burst    int
	Interval time.Duration
	// Clock times the intervals; nil: the system clock.
	Clock Clock
}

// The rate limit of identical warnings and errors unless Options say
// otherwise.
const (
	DefaultBurst    = 10
	DefaultInterval = 10 * time.Second
)

// levelTable is the levels in force: replaced whole, read atomically.
type levelTable struct {
	def  slog.Level
	comp map[string]slog.Level // nil when no component has its own
}

func (t *levelTable) of(component string) slog.Level {
	if t.comp != nil && component != "" {
		if l, ok := t.comp[component]; ok {
			return l
		}
	}
	return t.def
}

// Logging is the daemon's logging: the logger every part derives its own
// from, the levels in force and the limiter of repeated errors. It is
// safe for concurrent use; the levels change atomically while lines are
// written.
type Logging struct {
	format Format
	root   slog.Handler // the text or JSON handler on the output
	logger *slog.Logger
	lim    *limiter
	pinned *slog.Level // Options.Level

	mu     sync.Mutex // serialises changes of levels
	levels atomic.Pointer[levelTable]
}

// New builds the logging s and o describe. Call Close when the daemon
// ends: it writes the counts of repeats still held.
func New(s Settings, o Options) (*Logging, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	format, _ := ParseFormat(s.Format)
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	// The inner handler writes whatever reaches it: levels are ours.
	hopts := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	l := &Logging{format: format}
	if format == JSON {
		l.root = slog.NewJSONHandler(out, hopts)
	} else {
		l.root = slog.NewTextHandler(out, hopts)
	}
	if o.Level != "" {
		p, err := ParseLevel(o.Level)
		if err != nil {
			return nil, fmt.Errorf("log: -log-level: %w", err)
		}
		l.pinned = &p
	}
	t, _ := l.table(s) // validated above
	l.levels.Store(t)
	burst, every := o.Burst, o.Interval
	if burst <= 0 {
		burst = DefaultBurst
	}
	if every <= 0 {
		every = DefaultInterval
	}
	clock := o.Clock
	if clock == nil {
		clock = systemClock{}
	}
	l.lim = newLimiter(l.root, burst, every, clock)
	l.logger = slog.New(&handler{l: l, inner: l.root})
	return l, nil
}

// table is the level table of s, with the pinned level.
func (l *Logging) table(s Settings) (*levelTable, error) {
	t := &levelTable{def: slog.LevelInfo}
	if s.Level != "" {
		def, err := ParseLevel(s.Level)
		if err != nil {
			return nil, err
		}
		t.def = def
	}
	if l.pinned != nil {
		t.def = *l.pinned
	}
	comp, err := parseComponents(s.Levels)
	if err != nil {
		return nil, err
	}
	t.comp = comp
	return t, nil
}

// Logger is the root logger; each part adds its component
// (Logger().With(logx.KeyComponent, logx.L2TP)).
func (l *Logging) Logger() *slog.Logger { return l.logger }

// Format is the format the lines are written in.
func (l *Logging) Format() Format { return l.format }

// Close writes the counts of the repeats still held and stops the
// limiter's timers; lines logged afterwards are written unlimited.
func (l *Logging) Close() { l.lim.close() }

// Apply takes the [log] section of a configuration read again (a
// reload): the level (unless -log-level pinned it) and the component
// levels change at once, atomically. A different format cannot apply
// while the daemon runs: Apply then changes nothing and returns a
// *config.KeyError for key "format" wrapping ErrFormatFixed.
func (l *Logging) Apply(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if f, _ := ParseFormat(s.Format); f != l.format {
		return &config.KeyError{Key: "format", Err: fmt.Errorf("%s to %s: %w", l.format, f, ErrFormatFixed)}
	}
	t, err := l.table(s)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.levels.Store(t)
	l.mu.Unlock()
	return nil
}

// SetLevels applies spec, a comma-separated list of component=level items
// and at most one bare level ("info, l2tp=debug, radius=warn"): the bare
// level becomes the default level (kept when spec has none) and the
// component items replace every component's own level (a component spec
// does not name follows the default). A bad item changes nothing.
func (l *Logging) SetLevels(spec string) error {
	var def *slog.Level
	var comps []string
	for _, it := range strings.Split(spec, ",") {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
		case strings.Contains(it, "="):
			comps = append(comps, it)
		case def != nil:
			return fmt.Errorf("log: %q: a second default level (the first is %s)", it, levelName(*def))
		default:
			lv, err := ParseLevel(it)
			if err != nil {
				return fmt.Errorf("log: %w", err)
			}
			def = &lv
		}
	}
	comp, err := parseComponents(comps)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	l.set(def, comp, true)
	return nil
}

// SetLogLevels is what PUT /api/v1/log-level does: level, when not nil,
// becomes the default level; levels, when not nil, replaces the component
// levels ("l2tp=debug,radius=warn"; "" clears them). A bad value changes
// nothing and the error says why.
func (l *Logging) SetLogLevels(level, levels *string) error {
	var def *slog.Level
	if level != nil {
		lv, err := ParseLevel(*level)
		if err != nil {
			return fmt.Errorf("level: %w", err)
		}
		def = &lv
	}
	var comp map[string]slog.Level
	if levels != nil {
		var err error
		if comp, err = parseComponents(strings.Split(*levels, ",")); err != nil {
			return fmt.Errorf("levels: %w", err)
		}
	}
	l.set(def, comp, levels != nil)
	return nil
}

// set swaps in a new table: def when not nil, comp when replace.
func (l *Logging) set(def *slog.Level, comp map[string]slog.Level, replace bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.levels.Load()
	t := &levelTable{def: cur.def, comp: cur.comp}
	if def != nil {
		t.def = *def
	}
	if replace {
		t.comp = comp
	}
	l.levels.Store(t)
}

// LogLevels is what GET /api/v1/log-level shows: the default level and
// the component levels, sorted ("l2tp=debug,radius=warn").
func (l *Logging) LogLevels() (level, levels string) {
	t := l.levels.Load()
	var items []string
	for _, c := range slices.Sorted(maps.Keys(t.comp)) {
		items = append(items, c+"="+levelName(t.comp[c]))
	}
	return levelName(t.def), strings.Join(items, ",")
}

// Enabled reports whether a line of component at level would be written.
func (l *Logging) Enabled(component string, level slog.Level) bool {
	return level >= l.levels.Load().of(component)
}

// parseComponents reads component=level items; empty items are skipped.
// nil when there are none.
func parseComponents(items []string) (map[string]slog.Level, error) {
	var m map[string]slog.Level
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		c, lv, ok := strings.Cut(it, "=")
		c = strings.ToLower(strings.TrimSpace(c))
		if !ok {
			return nil, fmt.Errorf("%q: want component=level, such as l2tp=debug", it)
		}
		if c == "aaa" {
			c = RADIUS
		}
		if !slices.Contains(Components, c) {
			return nil, fmt.Errorf("%q: unknown component %q (want one of %s)", it, c, strings.Join(Components, ", "))
		}
		level, err := ParseLevel(lv)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", it, err)
		}
		if _, dup := m[c]; dup {
			return nil, fmt.Errorf("%q: component %s given twice", it, c)
		}
		if m == nil {
			m = make(map[string]slog.Level)
		}
		m[c] = level
	}
	return m, nil
}

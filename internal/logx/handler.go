package logx

import (
	"context"
	"log/slog"
)

// handler is the slog.Handler of every logger derived from
// Logging.Logger: it knows the component of its logger, checks the
// component's level, passes warnings and errors through the limiter and
// writes the component with the line. The component attribute is kept out
// of the inner handler's preformatted attributes, so a logger that
// changes component (a session's PPP logger derived from the session's)
// writes one component, the last, rather than both.
type handler struct {
	l       *Logging
	inner   slog.Handler
	comp    string
	grouped bool // a group is open: the component went into inner before it
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return h.l.Enabled(h.comp, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && !h.l.lim.allow(h.comp, r.Message, r.Level) {
		return nil
	}
	if h.comp != "" && !h.grouped {
		r.AddAttrs(slog.String(KeyComponent, h.comp))
	}
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &handler{l: h.l, inner: h.inner, comp: h.comp, grouped: h.grouped}
	rest := attrs
	if !h.grouped {
		rest = make([]slog.Attr, 0, len(attrs))
		for _, a := range attrs {
			if a.Key == KeyComponent {
				if v := a.Value.Resolve(); v.Kind() == slog.KindString {
					n.comp = v.String()
					continue
				}
			}
			rest = append(rest, a)
		}
	}
	if len(rest) > 0 {
		n.inner = n.inner.WithAttrs(rest)
	}
	return n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	inner := h.inner
	if h.comp != "" && !h.grouped {
		inner = inner.WithAttrs([]slog.Attr{slog.String(KeyComponent, h.comp)})
	}
	return &handler{l: h.l, inner: inner.WithGroup(name), comp: h.comp, grouped: true}
}

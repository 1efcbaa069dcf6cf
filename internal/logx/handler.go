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
//
// Attributes given to WithAttrs are kept as they are and handed to the
// inner handler only when a line is written, not preformatted: a box with
// 100,000 sessions holds a logger per session (and one per session's PPP),
// and a preformatted one costs several hundred octets more each, for the
// handful of lines a session writes in its life.
type handler struct {
	l       *Logging
	inner   slog.Handler
	comp    string
	attrs   []slog.Attr // given to WithAttrs, written before the line's own
	grouped bool        // a group is open: the component went into inner before it
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return h.l.Enabled(h.comp, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && !h.l.lim.allow(h.comp, r.Message, r.Level) {
		return nil
	}
	if len(h.attrs) > 0 {
		// The logger's attributes come first, as preformatted ones would.
		lr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		lr.AddAttrs(h.attrs...)
		r.Attrs(func(a slog.Attr) bool { lr.AddAttrs(a); return true })
		r = lr
	}
	if h.comp != "" && !h.grouped {
		r.AddAttrs(slog.String(KeyComponent, h.comp))
	}
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &handler{l: h.l, inner: h.inner, comp: h.comp, attrs: h.attrs, grouped: h.grouped}
	if h.grouped {
		// Inside a group the attributes belong to it: the inner handler
		// places them.
		n.inner = n.inner.WithAttrs(attrs)
		return n
	}
	var rest []slog.Attr
	for _, a := range attrs {
		if a.Key == KeyComponent {
			if v := a.Value.Resolve(); v.Kind() == slog.KindString {
				n.comp = v.String()
				continue
			}
		}
		if rest == nil {
			rest = make([]slog.Attr, len(h.attrs), len(h.attrs)+len(attrs))
			copy(rest, h.attrs)
		}
		rest = append(rest, a)
	}
	if rest != nil {
		n.attrs = rest // else only the component changed: the attributes are shared
	}
	return n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	inner := h.inner
	if len(h.attrs) > 0 {
		inner = inner.WithAttrs(h.attrs) // before the group, outside it
	}
	if h.comp != "" && !h.grouped {
		inner = inner.WithAttrs([]slog.Attr{slog.String(KeyComponent, h.comp)})
	}
	return &handler{l: h.l, inner: inner.WithGroup(name), comp: h.comp, grouped: true}
}

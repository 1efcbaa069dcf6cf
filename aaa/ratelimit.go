package aaa

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrRateLimit marks a rate-limit string that does not parse.
var ErrRateLimit = errors.New("bad rate limit")

// RateLimit is a per-session shaper setting in kbit/s, seen from the
// subscriber: DownKbps towards the subscriber, UpKbps from it. Zero in a
// direction means no limit.
type RateLimit struct {
	DownKbps uint64
	UpKbps   uint64
}

// IsZero reports whether no limit is set.
func (r RateLimit) IsZero() bool { return r.DownKbps == 0 && r.UpKbps == 0 }

// String writes the accel-ppp Filter-Id form "down/up".
func (r RateLimit) String() string {
	return strconv.FormatUint(r.DownKbps, 10) + "/" + strconv.FormatUint(r.UpKbps, 10)
}

// ParseRateLimit reads the accel-ppp convention carried in Filter-Id:
// "down/up" in kbit/s, or one number for both directions. Each number may
// carry a k, M or G suffix (kbit/s, Mbit/s, Gbit/s); without one it is
// kbit/s.
func ParseRateLimit(s string) (RateLimit, error) {
	down, up, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		up = down
	}
	d, err := parseKbps(down)
	if err != nil {
		return RateLimit{}, fmt.Errorf("aaa: %w %q: %v", ErrRateLimit, s, err)
	}
	u, err := parseKbps(up)
	if err != nil {
		return RateLimit{}, fmt.Errorf("aaa: %w %q: %v", ErrRateLimit, s, err)
	}
	return RateLimit{DownKbps: d, UpKbps: u}, nil
}

// parseMikrotikRateLimit reads the first pair of a Mikrotik-Rate-Limit
// ("rx/tx ..."), where rx is what the router receives from the subscriber
// (upload) and tx what it sends (download); a bare number is bit/s.
func parseMikrotikRateLimit(s string) (RateLimit, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return RateLimit{}, fmt.Errorf("aaa: %w: empty Mikrotik-Rate-Limit", ErrRateLimit)
	}
	rx, tx, ok := strings.Cut(f[0], "/")
	if !ok {
		tx = rx
	}
	u, err := parseBps(rx)
	if err != nil {
		return RateLimit{}, fmt.Errorf("aaa: %w %q: %v", ErrRateLimit, s, err)
	}
	d, err := parseBps(tx)
	if err != nil {
		return RateLimit{}, fmt.Errorf("aaa: %w %q: %v", ErrRateLimit, s, err)
	}
	return RateLimit{DownKbps: d / 1000, UpKbps: u / 1000}, nil
}

func parseKbps(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "G"), strings.HasSuffix(s, "g"):
		mult, s = 1000*1000, s[:len(s)-1]
	}
	return scaled(s, mult)
}

func parseBps(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1000*1000, s[:len(s)-1]
	case strings.HasSuffix(s, "G"), strings.HasSuffix(s, "g"):
		mult, s = 1000*1000*1000, s[:len(s)-1]
	}
	return scaled(s, mult)
}

func scaled(s string, mult uint64) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

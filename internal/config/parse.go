package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The file format, line by line (in the spirit of git-config and
// accel-ppp.conf, so an operator can comment every line):
//
//	# a comment line; so is a line starting with ';'
//	top-level-key = value          # keys before any header belong to the root
//	[lns]                          # a section: a nested struct field tagged cfg:"lns"
//	listen = 0.0.0.0:1701          # key = value; '#' after white space starts a comment
//	[lns.radius]                   # dots address sections nested inside sections
//	[lns.radius.server "primary"]  # a named section: one element of a slice of structs
//	address = 192.0.2.1:1812
//	secret = env:BRAS_RADIUS_SECRET
//	name = "a # kept"              # a double-quoted value uses Go string syntax
//
// Key and section names are made of letters, digits, '-' and '_'. A
// section that is not named may appear several times; its keys merge, and
// a key still may be set only once. A list key (a comma-separated value)
// may also be repeated, each occurrence appending to the list.

// ErrSyntax is wrapped by errors about a line that is not a comment, a
// section header or a key = value pair.
var ErrSyntax = errors.New("syntax error")

// maxLine bounds one line of the file.
const maxLine = 64 << 10

// rawSection is a section header and the entries below it, as written.
type rawSection struct {
	path    []string // nil for the root (the keys before any header)
	name    string
	named   bool
	line    int
	entries []rawEntry
}

type rawEntry struct {
	key, value string
	line       int
}

// parse splits the file into sections. It reports every syntax error
// with its line and goes on with the next line.
func parse(r io.Reader, file string) ([]rawSection, []error) {
	secs := []rawSection{{}}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	no := 0
	for sc.Scan() {
		no++
		s := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			sec, err := parseHeader(s)
			if err != nil {
				errs = append(errs, &Error{File: file, Line: no, Err: err})
				// Keys below a broken header must not land in the
				// previous section: collect them into a section nobody
				// resolves.
				secs = append(secs, rawSection{path: []string{""}, line: no})
				continue
			}
			sec.line = no
			secs = append(secs, sec)
			continue
		}
		key, value, err := parseEntry(s)
		if err != nil {
			errs = append(errs, &Error{File: file, Line: no, Err: err})
			continue
		}
		last := &secs[len(secs)-1]
		last.entries = append(last.entries, rawEntry{key: key, value: value, line: no})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, maxLine)
		}
		errs = append(errs, &Error{File: file, Line: no + 1, Err: err})
	}
	return secs, errs
}

// parseHeader parses `[a.b.c]` or `[a.b "name"]`.
func parseHeader(s string) (rawSection, error) {
	var sec rawSection
	inner, rest, ok := cutHeader(s)
	if !ok {
		return sec, fmt.Errorf("%w: section header without a closing ']'", ErrSyntax)
	}
	if rest != "" {
		return sec, fmt.Errorf("%w: unexpected %q after the section header", ErrSyntax, rest)
	}
	inner = strings.TrimSpace(inner)
	path := inner
	if i := strings.IndexAny(inner, " \t\""); i >= 0 {
		path = inner[:i]
		q := strings.TrimSpace(inner[i:])
		name, err := strconv.Unquote(q)
		if err != nil || !strings.HasPrefix(q, `"`) {
			return sec, fmt.Errorf("%w: section name %s must be a double-quoted string", ErrSyntax, q)
		}
		if name == "" {
			return sec, fmt.Errorf("%w: empty section name", ErrSyntax)
		}
		sec.name, sec.named = name, true
	}
	for _, p := range strings.Split(path, ".") {
		if !isIdent(p) {
			return sec, fmt.Errorf("%w: bad section name %q (want letters, digits, '-', '_', joined by '.')", ErrSyntax, path)
		}
		sec.path = append(sec.path, p)
	}
	return sec, nil
}

// cutHeader returns what is between '[' and the closing ']' (skipping a
// quoted name, which may hold ']'), and what follows it, comments removed.
func cutHeader(s string) (inner, rest string, ok bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return "", "", false
			}
			i += len(q) - 1
		case ']':
			return s[1:i], stripComment(s[i+1:]), true
		}
	}
	return "", "", false
}

// parseEntry parses `key = value # comment`.
func parseEntry(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("%w: want 'key = value', a [section] or a # comment", ErrSyntax)
	}
	key = strings.TrimSpace(k)
	if !isIdent(key) {
		return "", "", fmt.Errorf("%w: bad key %q (want letters, digits, '-', '_')", ErrSyntax, key)
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		q, qerr := strconv.QuotedPrefix(v)
		if qerr != nil {
			return "", "", fmt.Errorf("%w: %s: unterminated or malformed quoted value", ErrSyntax, key)
		}
		if rest := stripComment(v[len(q):]); rest != "" {
			return "", "", fmt.Errorf("%w: %s: unexpected %q after the quoted value", ErrSyntax, key, rest)
		}
		value, _ = strconv.Unquote(q)
		return key, value, nil
	}
	return key, stripComment(v), nil
}

// stripComment removes a comment: a '#' at the start or after white space.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

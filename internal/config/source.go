package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Source is where the keys and sections of a decoded file are: what the
// checks that relate several sections (two pools that overlap, a key
// naming a section that does not exist) and a comparison of two versions
// of a file need to say where a problem is. Paths are those of Error:
// "ppp.session-timeout", "pool[1].range" for the second [pool "name"].
type Source struct {
	File     string
	keys     map[string]int    // key path -> line where it was (last) set
	sections map[string]int    // section path -> line of its first header
	items    map[string][]int  // list key path -> line of each item
	labels   map[string]string // named section path -> `pool "gold"`
}

// IsSet reports whether the key at path is set in the file (and not left
// to its default).
func (s *Source) IsSet(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.keys[path]
	return ok
}

// Line is the line of the key at path; for a key the file does not set,
// the line of the nearest section around it that the file has; 0 when
// there is none.
func (s *Source) Line(path string) int {
	if s == nil {
		return 0
	}
	if l, ok := s.keys[path]; ok {
		return l
	}
	for p := path; p != ""; {
		if l, ok := s.sections[p]; ok && l > 0 {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// ItemLine is the line of the i-th item of the list key at path (a key
// may be repeated, each line adding items); the key's line when unknown.
func (s *Source) ItemLine(path string, i int) int {
	if s != nil && i >= 0 && i < len(s.items[path]) {
		return s.items[path][i]
	}
	return s.Line(path)
}

// Display is path as an operator reads it: a key of a named section is
// `[pool "gold"] range`, a named section `[pool "gold"]`, any other key
// stays "ppp.session-timeout".
func (s *Source) Display(path string) string {
	if s == nil {
		return path
	}
	for i := len(path); i > 0; i-- {
		if i < len(path) && path[i] != '.' {
			continue
		}
		if label, ok := s.labels[path[:i]]; ok {
			if i == len(path) {
				return "[" + label + "]"
			}
			return "[" + label + "] " + path[i+1:]
		}
	}
	return path
}

// Where is "file:line" of path (Line), or the file alone without a line.
func (s *Source) Where(path string) string {
	if s == nil {
		return ""
	}
	return s.at(s.Line(path))
}

// WhereItem is "file:line" of the i-th item of the list key at path.
func (s *Source) WhereItem(path string, i int) string {
	if s == nil {
		return ""
	}
	return s.at(s.ItemLine(path, i))
}

func (s *Source) at(line int) string {
	if line == 0 {
		return s.File
	}
	return s.File + ":" + strconv.Itoa(line)
}

// Errorf is an *Error about the key at path, at its line.
func (s *Source) Errorf(path, format string, args ...any) error {
	return s.ErrorAt(s.Line(path), path, format, args...)
}

// ErrorAt is an *Error about the key at path, at the given line (of one
// item of a list, say).
func (s *Source) ErrorAt(line int, path, format string, args ...any) error {
	file := ""
	if s != nil {
		file = s.File
	}
	return &Error{File: file, Line: line, Path: s.Display(path), Err: errors.New(fmt.Sprintf(format, args...))}
}

// Change is one difference between two decoded versions of a
// configuration (Diff).
type Change struct {
	// Path is the key or section in the terms of the new file ("pool[1]"),
	// of the old one for what the new file no longer has.
	Path string
	// Key is Path as an operator reads it (Source.Display).
	Key string
	// Old and New are the values as they print ("" for a section);
	// secrets never print.
	Old, New string
	// Added and Removed say a named section appeared or went away.
	Added, Removed bool
	// File and Line are where the change is: in the new file, or in the
	// old one for what was removed.
	File string
	Line int
}

// String is "file:line: key: old -> new", "file:line: [pool "x"] added".
func (c Change) String() string {
	where := c.File
	if c.Line > 0 {
		where += ":" + strconv.Itoa(c.Line)
	}
	switch {
	case c.Added:
		return where + ": " + c.Key + " added"
	case c.Removed:
		return where + ": " + c.Key + " removed"
	case c.Old == c.New: // a secret: neither value prints
		return where + ": " + c.Key + " changed"
	}
	return fmt.Sprintf("%s: %s: %s -> %s", where, c.Key, orNone(c.Old), orNone(c.New))
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Diff compares two configurations of one struct type, as decoded with
// DecodeSource (oldSrc and newSrc say where their keys are; either may be
// nil): every key whose value differs, every named section added or
// removed (named sections are matched by name, not by position), in the
// order of the struct's fields.
func Diff(old, new any, oldSrc, newSrc *Source) []Change {
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(new)
	if ov.Kind() == reflect.Pointer {
		ov, nv = ov.Elem(), nv.Elem()
	}
	if ov.Type() != nv.Type() || ov.Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: Diff of %T and %T", old, new))
	}
	d := differ{old: oldSrc, new: newSrc}
	d.walk(ov, nv, "", "")
	return d.out
}

type differ struct {
	old, new *Source
	out      []Change
}

// walk compares structs o (at oldPath in the old file) and n (at newPath).
func (d *differ) walk(o, n reflect.Value, oldPath, newPath string) {
	t := o.Type()
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		if !ok || fi.name {
			continue
		}
		of, nf := o.Field(i), n.Field(i)
		op, np := join(oldPath, fi.key), join(newPath, fi.key)
		switch {
		case isSection(of.Type()):
			d.walk(of, nf, op, np)
		case of.Kind() == reflect.Slice && isSection(of.Type().Elem()):
			d.named(of, nf, op, np)
		default:
			if reflect.DeepEqual(of.Interface(), nf.Interface()) {
				continue
			}
			c := Change{Path: np, Key: d.new.Display(np), Old: show(of), New: show(nf)}
			d.place(&c, op, np)
			d.out = append(d.out, c)
		}
	}
}

// named compares two lists of named sections by their names.
func (d *differ) named(o, n reflect.Value, oldPath, newPath string) {
	oldAt := map[string]int{}
	for j := 0; j < o.Len(); j++ {
		oldAt[nameOf(o.Index(j))] = j
	}
	seen := map[string]bool{}
	for j := 0; j < n.Len(); j++ {
		name := nameOf(n.Index(j))
		seen[name] = true
		np := fmt.Sprintf("%s[%d]", newPath, j)
		k, ok := oldAt[name]
		if !ok {
			c := Change{Path: np, Key: d.new.Display(np), Added: true}
			d.place(&c, "", np)
			d.out = append(d.out, c)
			continue
		}
		d.walk(o.Index(k), n.Index(j), fmt.Sprintf("%s[%d]", oldPath, k), np)
	}
	for j := 0; j < o.Len(); j++ {
		if name := nameOf(o.Index(j)); !seen[name] {
			op := fmt.Sprintf("%s[%d]", oldPath, j)
			c := Change{Path: op, Key: d.old.Display(op), Removed: true}
			if d.old != nil {
				c.File, c.Line = d.old.File, d.old.Line(op)
			}
			d.out = append(d.out, c)
		}
	}
}

// place sets where a change is: the key's line in the new file, else its
// line in the old one.
func (d *differ) place(c *Change, oldPath, newPath string) {
	if d.new != nil {
		c.File, c.Line = d.new.File, d.new.Line(newPath)
	}
	if c.Line == 0 && oldPath != "" && d.old != nil {
		c.File, c.Line = d.old.File, d.old.Line(oldPath)
	}
}

// show prints a value as the file would write it.
func show(v reflect.Value) string {
	switch v.Type() {
	case typSecret:
		if v.Len() == 0 {
			return ""
		}
		return "(secret)"
	case typDuration:
		return time.Duration(v.Int()).String()
	case typAddr, typAddrPort, typPrefix:
		if z, ok := v.Interface().(interface{ IsValid() bool }); ok && !z.IsValid() {
			return ""
		}
		return fmt.Sprint(v.Interface())
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = show(v.Index(i))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v.Interface())
}

package config

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Encode writes v, a struct (or a pointer to one) of the kind Decode
// fills, in the file format: root keys first, then one header per section
// that holds a value, and one [section "name"] per element of a list of
// sections. Zero values are left out, since Decode gives them back for a
// missing key. Secrets are written as "***": Encode shows the effective
// configuration (bras lns -check), it does not copy secrets around.
func Encode(w io.Writer, v any) error {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("config: Encode needs a struct, not %T", v)
	}
	if err := checkType(rv.Type()); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := encodeKeys(bw, rv); err != nil {
		return err
	}
	if err := encodeSections(bw, rv, ""); err != nil {
		return err
	}
	return bw.Flush()
}

// encodeKeys writes the non-zero values of struct v.
func encodeKeys(w *bufio.Writer, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		f := v.Field(i)
		if !ok || fi.name || !isValue(f.Type()) || f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Slice && f.Type() != typSecret {
			if f.Len() == 0 {
				continue
			}
			if f.Type().Elem().Kind() != reflect.String {
				items := make([]string, f.Len())
				for j := range items {
					items[j] = formatValue(f.Index(j))
					if strings.Contains(items[j], ",") {
						return fmt.Errorf("config: %s: list item %q cannot be written (a comma)", fi.key, items[j])
					}
				}
				fmt.Fprintf(w, "%s = %s\n", fi.key, strings.Join(items, ", "))
				continue
			}
			for j := 0; j < f.Len(); j++ {
				item := f.Index(j).String()
				if item == "" || strings.Contains(item, ",") || item != strings.TrimSpace(item) {
					return fmt.Errorf("config: %s: list item %q cannot be written (empty, a comma, or surrounding space)", fi.key, item)
				}
				fmt.Fprintf(w, "%s = %s\n", fi.key, quoteIfNeeded(item))
			}
			continue
		}
		fmt.Fprintf(w, "%s = %s\n", fi.key, formatValue(f))
	}
	return nil
}

func formatValue(f reflect.Value) string {
	switch f.Type() {
	case typSecret:
		return masked
	case typDuration:
		return time.Duration(f.Int()).String()
	case typAddr, typAddrPort, typPrefix:
		return f.Interface().(fmt.Stringer).String()
	}
	switch f.Kind() {
	case reflect.String:
		return quoteIfNeeded(f.String())
	case reflect.Bool:
		return strconv.FormatBool(f.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(f.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(f.Uint(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(f.Float(), 'g', -1, 64)
	}
	panic("config: unreachable value kind " + f.Kind().String())
}

// quoteIfNeeded quotes a string that would not read back as written.
func quoteIfNeeded(s string) string {
	if s != strings.TrimSpace(s) || strings.ContainsAny(s, "#\"\\") {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}

// hasKeys reports whether struct v holds a value Encode writes.
func hasKeys(v reflect.Value) bool {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		f := v.Field(i)
		if ok && !fi.name && isValue(f.Type()) && !f.IsZero() && !(f.Kind() == reflect.Slice && f.Len() == 0) {
			return true
		}
	}
	return false
}

func encodeSections(w *bufio.Writer, v reflect.Value, path string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		if !ok || fi.name {
			continue
		}
		f := v.Field(i)
		p := join(path, fi.key)
		switch {
		case isSection(f.Type()):
			if hasKeys(f) {
				fmt.Fprintf(w, "\n[%s]\n", p)
				if err := encodeKeys(w, f); err != nil {
					return err
				}
			}
			if err := encodeSections(w, f, p); err != nil {
				return err
			}
		case f.Kind() == reflect.Slice && isSection(f.Type().Elem()):
			for j := 0; j < f.Len(); j++ {
				el := f.Index(j)
				name := nameOf(el)
				if name == "" {
					return fmt.Errorf("config: %s[%d]: a named section needs a name", p, j)
				}
				fmt.Fprintf(w, "\n[%s %s]\n", p, strconv.Quote(name))
				if err := encodeKeys(w, el); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func nameOf(v reflect.Value) string {
	for i := 0; i < v.NumField(); i++ {
		if fi, ok := tagOf(v.Type().Field(i)); ok && fi.name {
			return v.Field(i).String()
		}
	}
	return ""
}

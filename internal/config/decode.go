package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors wrapped by the *Error values Decode returns.
var (
	ErrUnknownSection = errors.New("unknown section")
	ErrUnknownKey     = errors.New("unknown key")
	ErrDuplicate      = errors.New("duplicate")
	ErrBadValue       = errors.New("bad value")
	ErrRequired       = errors.New("required key is missing")
	ErrEnvUnset       = errors.New("environment variable is not set")
)

// Error is one problem in a configuration file: where it is and what is
// wrong. It prints as "file:line: section.key: what is wrong".
type Error struct {
	File string
	Line int    // 0 when the problem has no line (a missing section)
	Path string // section.key, with [i] for the i-th named section
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Validator is implemented by a config struct that checks itself once it
// is decoded (ranges that depend on each other, derived values). Decode
// calls it on every struct, inner sections first, and reports its error
// with the section's place in the file.
type Validator interface {
	Validate() error
}

// KeyError is what a Validate hook returns about one key of its section:
// Decode reports it at the line where the key is set (or the section's,
// when the key is not in the file) and with the key's path.
type KeyError struct {
	Key string // as in the cfg tag, e.g. "retransmit-cap"
	Err error
}

func (e *KeyError) Error() string { return e.Key + " " + e.Err.Error() }

func (e *KeyError) Unwrap() error { return e.Err }

// maxErrors bounds the errors one Decode collects.
const maxErrors = 100

// Decode reads a configuration file from r into v, a pointer to a struct.
//
// Fields are matched by their tag: `cfg:"key"` for a key, `cfg:"key,required"`
// for a key that must be set, `cfg:",name"` for the string that receives the
// name of a named section, `cfg:"-"` (or no tag) to ignore the field. A
// struct field is a [section]; a slice of structs is a repeatable named
// [section "name"]. Supported value kinds: string, bool, signed and
// unsigned integers (range-checked, 0x/0o/0b prefixes accepted), float64,
// time.Duration ("90s", "1m30s"), netip.Addr, netip.AddrPort,
// netip.Prefix, Secret, and the lists []string and []netip.Prefix (comma
// separated, or the key repeated).
//
// A Secret value "env:NAME" is read from the environment variable NAME (an
// error if it is unset or empty) and "file:/path" from a file (one trailing
// newline removed); any other value is the secret itself.
//
// Every problem is reported, not only the first: the error is an
// errors.Join of *Error values, each naming the file, the line and the key.
func Decode(r io.Reader, filename string, v any) error {
	_, err := DecodeSource(r, filename, v)
	return err
}

// DecodeSource is Decode that also returns where every key and section
// of the file is, for the checks that relate several sections and for
// comparing two versions of a file. The Source is nil when v is not a
// pointer to a struct.
func DecodeSource(r io.Reader, filename string, v any) (*Source, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: Decode needs a non-nil pointer to a struct, not %T", v)
	}
	d := &decoder{
		file:     filename,
		set:      map[string]int{},
		sections: map[string]int{},
		names:    map[string]int{},
		items:    map[string][]int{},
		labels:   map[string]string{},
		getenv:   os.LookupEnv,
		readFile: os.ReadFile,
	}
	secs, perrs := parse(r, filename)
	for _, e := range perrs {
		d.add(e)
	}
	root := rv.Elem()
	if err := checkType(root.Type()); err != nil {
		return nil, err
	}
	for _, sec := range secs {
		d.section(root, sec)
	}
	d.finish(root, "")
	if len(d.errs) > maxErrors {
		d.errs = append(d.errs[:maxErrors], fmt.Errorf("%s: too many errors", filename))
	}
	src := &Source{File: filename, keys: d.set, sections: d.sections, items: d.items, labels: d.labels}
	for _, err := range d.errs {
		if e, ok := err.(*Error); ok {
			e.Path = src.Display(e.Path) // `[lac "a"] secret`, not lac[0].secret
		}
	}
	return src, errors.Join(d.errs...)
}

type decoder struct {
	file     string
	errs     []error
	set      map[string]int    // full key path -> line where it was set
	sections map[string]int    // full section path -> line of its first header
	names    map[string]int    // slice path + name -> line, to refuse a repeated name
	items    map[string][]int  // list key path -> line of each item
	labels   map[string]string // named section path ("pool[1]") -> `pool "gold"`
	getenv   func(string) (string, bool)
	readFile func(string) ([]byte, error)
}

func (d *decoder) add(err error) {
	if len(d.errs) <= maxErrors {
		d.errs = append(d.errs, err)
	}
}

func (d *decoder) errorf(line int, path string, sentinel error, format string, args ...any) {
	var err error
	if format == "" {
		err = sentinel
	} else {
		err = fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
	}
	d.add(&Error{File: d.file, Line: line, Path: path, Err: err})
}

// fieldInfo is a struct field's tag.
type fieldInfo struct {
	key      string
	required bool
	name     bool
}

func tagOf(f reflect.StructField) (fieldInfo, bool) {
	tag, ok := f.Tag.Lookup("cfg")
	if !ok || tag == "-" || !f.IsExported() {
		return fieldInfo{}, false
	}
	key, opts, _ := strings.Cut(tag, ",")
	fi := fieldInfo{key: key}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "required":
			fi.required = true
		case "name":
			fi.name = true
		}
	}
	return fi, true
}

// field finds the field of struct type t with the given key.
func field(t reflect.Type, key string) (int, fieldInfo, bool) {
	for i := 0; i < t.NumField(); i++ {
		if fi, ok := tagOf(t.Field(i)); ok && !fi.name && fi.key == key {
			return i, fi, true
		}
	}
	return 0, fieldInfo{}, false
}

var (
	typDuration = reflect.TypeFor[time.Duration]()
	typAddr     = reflect.TypeFor[netip.Addr]()
	typAddrPort = reflect.TypeFor[netip.AddrPort]()
	typPrefix   = reflect.TypeFor[netip.Prefix]()
	typSecret   = reflect.TypeFor[Secret]()
)

// isSection reports whether t is a struct decoded as a section (and not a
// value such as netip.Addr).
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != typAddr && t != typAddrPort && t != typPrefix
}

// checkType refuses, before any input is read, a struct with a field kind
// Decode cannot fill: that is a programming error, not a config error.
func checkType(t reflect.Type) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fi, ok := tagOf(f)
		if !ok {
			continue
		}
		ft := f.Type
		switch {
		case fi.name:
			if ft.Kind() != reflect.String {
				return fmt.Errorf("config: %s.%s: a ,name field must be a string", t, f.Name)
			}
		case isSection(ft):
			if err := checkType(ft); err != nil {
				return err
			}
		case ft.Kind() == reflect.Slice && isSection(ft.Elem()):
			if err := checkType(ft.Elem()); err != nil {
				return err
			}
		case isValue(ft):
		default:
			return fmt.Errorf("config: %s.%s: unsupported field type %s", t, f.Name, ft)
		}
	}
	return nil
}

func isValue(t reflect.Type) bool {
	switch t {
	case typDuration, typAddr, typAddrPort, typPrefix, typSecret:
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Slice:
		// A list of any value but a secret or a list; []byte is refused
		// as a list of numbers nobody means.
		e := t.Elem()
		return e != typSecret && e.Kind() != reflect.Slice && e.Kind() != reflect.Uint8 && isValue(e)
	}
	return false
}

// section resolves a header to the struct it fills and decodes its keys.
func (d *decoder) section(root reflect.Value, sec rawSection) {
	cur, path := root, ""
	header := "[" + strings.Join(sec.path, ".") + "]"
	for i, elem := range sec.path {
		if elem == "" { // a header that failed to parse; its error is reported
			return
		}
		idx, _, ok := field(cur.Type(), elem)
		if !ok {
			err := ErrUnknownSection
			if c := suggest(cur.Type(), elem, true); c != "" {
				guess := slices.Clone(sec.path)
				guess[i] = c
				err = fmt.Errorf("%w, did you mean [%s]?", ErrUnknownSection, strings.Join(guess, "."))
			}
			d.add(&Error{File: d.file, Line: sec.line, Path: header, Err: err})
			return
		}
		f := cur.Field(idx)
		path = join(path, elem)
		last := i == len(sec.path)-1
		switch {
		case isSection(f.Type()):
			if last && sec.named {
				d.errorf(sec.line, path, ErrSyntax, "section [%s] takes no name", path)
				return
			}
			cur = f
		case f.Kind() == reflect.Slice && isSection(f.Type().Elem()):
			if !last {
				d.errorf(sec.line, header, ErrUnknownSection, "%s is a list of named sections, it has no sub-sections", path)
				return
			}
			if !sec.named {
				d.errorf(sec.line, path, ErrSyntax, "section needs a name: [%s \"name\"]", strings.Join(sec.path, "."))
				return
			}
			nk := path + "\x00" + sec.name
			if first, dup := d.names[nk]; dup {
				d.errorf(sec.line, fmt.Sprintf("%s %q", path, sec.name), ErrDuplicate, "section (first on line %d)", first)
				return
			}
			d.names[nk] = sec.line
			f.Set(reflect.Append(f, reflect.New(f.Type().Elem()).Elem()))
			n := f.Len() - 1
			cur = f.Index(n)
			label := fmt.Sprintf("%s %q", path, sec.name)
			path = fmt.Sprintf("%s[%d]", path, n)
			d.labels[path] = label
			setName(cur, sec.name)
		default:
			d.errorf(sec.line, path, ErrUnknownSection, "%s is a key, not a section", path)
			return
		}
	}
	if _, ok := d.sections[path]; !ok {
		d.sections[path] = sec.line
	}
	for _, e := range sec.entries {
		d.entry(cur, path, e)
	}
}

// suggest returns the key (or section) of struct t closest to a misspelt
// one, or "" when none is close: at most two edits, and fewer than the
// word has letters.
func suggest(t reflect.Type, word string, section bool) string {
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		if !ok || fi.name {
			continue
		}
		ft := t.Field(i).Type
		isSec := isSection(ft) || (ft.Kind() == reflect.Slice && isSection(ft.Elem()))
		if isSec != section {
			continue
		}
		if d := editDistance(strings.ToLower(word), fi.key); d < bestD && d < len(word) {
			best, bestD = fi.key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, which are short.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func setName(v reflect.Value, name string) {
	for i := 0; i < v.NumField(); i++ {
		if fi, ok := tagOf(v.Type().Field(i)); ok && fi.name {
			v.Field(i).SetString(name)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// entry decodes one key = value into struct v at section path.
func (d *decoder) entry(v reflect.Value, path string, e rawEntry) {
	kp := join(path, e.key)
	idx, _, ok := field(v.Type(), e.key)
	if !ok {
		err := ErrUnknownKey
		if c := suggest(v.Type(), e.key, false); c != "" {
			err = fmt.Errorf("%w, did you mean %q?", ErrUnknownKey, c)
		}
		d.add(&Error{File: d.file, Line: e.line, Path: kp, Err: err})
		return
	}
	f := v.Field(idx)
	if !isValue(f.Type()) {
		d.errorf(e.line, kp, ErrUnknownKey, "%s is a section, write it as [%s]", kp, kp)
		return
	}
	isList := f.Kind() == reflect.Slice && f.Type() != typSecret
	if first, dup := d.set[kp]; dup && !isList {
		d.errorf(e.line, kp, ErrDuplicate, "key (first set on line %d)", first)
		return
	}
	d.set[kp] = e.line
	before := 0
	if isList {
		before = f.Len()
	}
	if err := d.value(f, e.value); err != nil {
		d.add(&Error{File: d.file, Line: e.line, Path: kp, Err: err})
		return
	}
	if isList {
		for range f.Len() - before {
			d.items[kp] = append(d.items[kp], e.line)
		}
	}
}

// value parses s into f according to f's type.
func (d *decoder) value(f reflect.Value, s string) error {
	bad := func(what string, _ error) error {
		return fmt.Errorf("%w %q: want %s", ErrBadValue, s, what)
	}
	switch f.Type() {
	case typSecret:
		b, err := d.secret(s)
		if err != nil {
			return err
		}
		f.SetBytes(b)
		return nil
	case typDuration:
		dur, err := time.ParseDuration(s)
		if err != nil {
			return bad("a duration such as 30s, 1m30s or 500ms", nil)
		}
		f.SetInt(int64(dur))
		return nil
	case typAddr:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return bad("an IP address", nil)
		}
		f.Set(reflect.ValueOf(a))
		return nil
	case typAddrPort:
		a, err := netip.ParseAddrPort(s)
		if err != nil {
			return bad("address:port, such as 192.0.2.1:1812 or [2001:db8::1]:1812", nil)
		}
		f.Set(reflect.ValueOf(a))
		return nil
	case typPrefix:
		p, err := parsePrefix(s)
		if err != nil {
			return prefixErr(s, err)
		}
		f.Set(reflect.ValueOf(p))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true", "yes", "on", "1":
			f.SetBool(true)
		case "false", "no", "off", "0":
			f.SetBool(false)
		default:
			return bad("true or false", nil)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 0, f.Type().Bits())
		if err != nil {
			lo, hi := int64(-1)<<(f.Type().Bits()-1), int64(1)<<(f.Type().Bits()-1)-1
			return bad(fmt.Sprintf("an integer from %d to %d", lo, hi), nil)
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 0, f.Type().Bits())
		if err != nil {
			hi := uint64(math.MaxUint64) >> (64 - f.Type().Bits())
			return bad(fmt.Sprintf("an integer from 0 to %d", hi), nil)
		}
		f.SetUint(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return bad("a number", nil)
		}
		f.SetFloat(x)
	case reflect.Slice:
		items := strings.Split(s, ",")
		list := reflect.MakeSlice(f.Type(), 0, len(items))
		for _, it := range items {
			it = strings.TrimSpace(it)
			if it == "" {
				return bad("a comma-separated list without empty items", nil)
			}
			el := reflect.New(f.Type().Elem()).Elem()
			if err := d.value(el, it); err != nil {
				return err
			}
			list = reflect.Append(list, el)
		}
		f.Set(reflect.AppendSlice(f, list))
	default:
		// checkType refused every other kind before decoding.
		panic("config: unreachable field kind " + f.Kind().String())
	}
	return nil
}

// errHostBits is returned by parsePrefix for 10.1.2.3/8.
var errHostBits = errors.New("host bits set")

func prefixErr(s string, err error) error {
	if errors.Is(err, errHostBits) {
		p, _ := netip.ParsePrefix(s)
		return fmt.Errorf("%w %q: host bits are set, did you mean %s?", ErrBadValue, s, p.Masked())
	}
	return fmt.Errorf("%w %q: want a prefix such as 10.0.0.0/8", ErrBadValue, s)
}

// parsePrefix parses a prefix and refuses host bits set (10.1.2.3/8), which
// is almost always a typing error in an access list.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Masked() != p {
		return p, errHostBits
	}
	return p, nil
}

// secret resolves "env:NAME", "file:/path" or a literal secret.
func (d *decoder) secret(s string) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "env:"):
		name := s[len("env:"):]
		v, ok := d.getenv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("%w: %s", ErrEnvUnset, name)
		}
		return []byte(v), nil
	case strings.HasPrefix(s, "file:"):
		b, err := d.readFile(s[len("file:"):])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: secret file %s is empty", ErrBadValue, s[len("file:"):])
		}
		return b, nil
	}
	return []byte(s), nil
}

// finish checks required keys and runs Validate hooks, inner sections
// first, over the struct v found at path.
func (d *decoder) finish(v reflect.Value, path string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fi, ok := tagOf(t.Field(i))
		if !ok || fi.name {
			continue
		}
		f := v.Field(i)
		kp := join(path, fi.key)
		switch {
		case isSection(f.Type()):
			d.finish(f, kp)
		case f.Kind() == reflect.Slice && isSection(f.Type().Elem()):
			for j := 0; j < f.Len(); j++ {
				d.finish(f.Index(j), fmt.Sprintf("%s[%d]", kp, j))
			}
		default:
			if _, set := d.set[kp]; fi.required && !set {
				d.errorf(d.sections[path], kp, ErrRequired, "")
			}
		}
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		if err := val.Validate(); err != nil {
			d.validateError(path, err)
		}
	}
}

// validateError reports what a Validate hook of the section at path
// returned: each error of an errors.Join on its own, a KeyError at the
// line of its key.
func (d *decoder) validateError(path string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			d.validateError(path, e)
		}
		return
	}
	var ke *KeyError
	if !errors.As(err, &ke) {
		d.add(&Error{File: d.file, Line: d.sections[path], Path: path, Err: err})
		return
	}
	kp := join(path, ke.Key)
	line, set := d.set[kp]
	if !set {
		line = d.sections[path]
	}
	d.add(&Error{File: d.file, Line: line, Path: kp, Err: ke.Err})
}

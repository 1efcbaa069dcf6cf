package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type kinds struct {
	S    string          `cfg:"s"`
	B    bool            `cfg:"b"`
	I    int             `cfg:"i"`
	I8   int8            `cfg:"i8"`
	I16  int16           `cfg:"i16"`
	I32  int32           `cfg:"i32"`
	I64  int64           `cfg:"i64"`
	U    uint            `cfg:"u"`
	U8   uint8           `cfg:"u8"`
	U16  uint16          `cfg:"u16"`
	U32  uint32          `cfg:"u32"`
	U64  uint64          `cfg:"u64"`
	F    float64         `cfg:"f"`
	D    time.Duration   `cfg:"d"`
	A    netip.Addr      `cfg:"a"`
	AP   netip.AddrPort  `cfg:"ap"`
	P    netip.Prefix    `cfg:"p"`
	SS   []string        `cfg:"ss"`
	PS   []netip.Prefix  `cfg:"ps"`
	Sec  Secret          `cfg:"sec"`
	AS   []netip.Addr    `cfg:"as"`
	DS   []time.Duration `cfg:"ds"`
	U16S []uint16        `cfg:"u16s"`
	Ign  string          // no tag: never filled
	Skp  string          `cfg:"-"`
}

type server struct {
	Name    string         `cfg:",name"`
	Address netip.AddrPort `cfg:"address,required"`
	Secret  Secret         `cfg:"secret,required"`
	Weight  uint8          `cfg:"weight"`
}

type radius struct {
	Timeout time.Duration `cfg:"timeout"`
	Retries int           `cfg:"retries"`
	Servers []server      `cfg:"server"`
}

// Validate is the hook Decode calls after the section is decoded.
func (r *radius) Validate() error {
	if r.Retries > 10 {
		return fmt.Errorf("retries %d is more than 10", r.Retries)
	}
	if r.Timeout > time.Minute {
		return errors.Join(&KeyError{Key: "timeout", Err: fmt.Errorf("%v is more than a minute", r.Timeout)},
			&KeyError{Key: "retries", Err: errors.New("must be set with a long timeout")})
	}
	return nil
}

type lns struct {
	Listen netip.AddrPort `cfg:"listen"`
	Hello  time.Duration  `cfg:"hello-interval"`
	Radius radius         `cfg:"radius"`
}

type lac struct {
	Name        string         `cfg:",name"`
	HostName    string         `cfg:"host-name"`
	Secret      Secret         `cfg:"secret"`
	AllowedFrom []netip.Prefix `cfg:"allowed-from"`
}

type root struct {
	NodeName string `cfg:"node-name"`
	LNS      lns    `cfg:"lns"`
	LAC      []lac  `cfg:"lac"`
	Kinds    kinds  `cfg:"kinds"`
}

var opts = cmp.Options{cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}, netip.Prefix{})}

func decode(t *testing.T, src string) (root, error) {
	t.Helper()
	var r root
	err := Decode(strings.NewReader(src), "bras.conf", &r)
	return r, err
}

func TestDecodeKinds(t *testing.T) {
	t.Setenv("BRAS_TEST_SECRET", "s3cret")
	dir := t.TempDir()
	sf := filepath.Join(dir, "secret")
	if err := os.WriteFile(sf, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		line string
		want kinds
	}{
		{"string", "s = hello world", kinds{S: "hello world"}},
		{"string quoted keeps #", `s = "a # b \"q\"" # comment`, kinds{S: `a # b "q"`}},
		{"string with # glued", "s = a#b", kinds{S: "a#b"}},
		{"string empty", "s =", kinds{}},
		{"bool true", "b = true", kinds{B: true}},
		{"bool yes", "b = yes", kinds{B: true}},
		{"bool on", "b = On", kinds{B: true}},
		{"bool false", "b = false", kinds{}},
		{"int negative", "i = -42", kinds{I: -42}},
		{"int hex", "i = 0x10", kinds{I: 16}},
		{"int8 min", "i8 = -128", kinds{I8: -128}},
		{"int16 max", "i16 = 32767", kinds{I16: 32767}},
		{"int32", "i32 = -2147483648", kinds{I32: -2147483648}},
		{"int64", "i64 = 9223372036854775807", kinds{I64: 9223372036854775807}},
		{"uint", "u = 7", kinds{U: 7}},
		{"uint8 max", "u8 = 255", kinds{U8: 255}},
		{"uint16 max", "u16 = 65535", kinds{U16: 65535}},
		{"uint32", "u32 = 4294967295", kinds{U32: 4294967295}},
		{"uint64", "u64 = 18446744073709551615", kinds{U64: 18446744073709551615}},
		{"float", "f = 0.25", kinds{F: 0.25}},
		{"duration", "d = 1m30s", kinds{D: 90 * time.Second}},
		{"duration ms", "d = 500ms", kinds{D: 500 * time.Millisecond}},
		{"addr v4", "a = 192.0.2.1", kinds{A: netip.MustParseAddr("192.0.2.1")}},
		{"addr v6", "a = 2001:db8::1", kinds{A: netip.MustParseAddr("2001:db8::1")}},
		{"addrport v4", "ap = 127.0.0.1:1812", kinds{AP: netip.MustParseAddrPort("127.0.0.1:1812")}},
		{"addrport v6", "ap = [2001:db8::1]:1701", kinds{AP: netip.MustParseAddrPort("[2001:db8::1]:1701")}},
		{"prefix", "p = 10.0.0.0/8", kinds{P: netip.MustParsePrefix("10.0.0.0/8")}},
		{"string list", "ss = a, b ,c", kinds{SS: []string{"a", "b", "c"}}},
		{"string list repeated", "ss = a\nss = b, c", kinds{SS: []string{"a", "b", "c"}}},
		{"prefix list", "ps = 10.0.0.0/8, 192.0.2.0/24", kinds{PS: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}}},
		{"prefix list repeated", "ps = 10.0.0.0/8\nps = 2001:db8::/32", kinds{PS: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}},
		{"addr list", "as = 192.0.2.53, 2001:db8::53", kinds{AS: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}}},
		{"duration list", "ds = 1s, 2s\nds = 4s", kinds{DS: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}}},
		{"uint16 list", "u16s = 1701, 0x10", kinds{U16S: []uint16{1701, 16}}},
		{"secret literal", "sec = plain", kinds{Sec: Secret("plain")}},
		{"secret env", "sec = env:BRAS_TEST_SECRET", kinds{Sec: Secret("s3cret")}},
		{"secret file", "sec = file:" + sf, kinds{Sec: Secret("from-file")}},
		{"CRLF line", "s = dos\r", kinds{S: "dos"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, "[kinds]\n"+tt.line+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Kinds, opts); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDecodeSections(t *testing.T) {
	src := `# bras test configuration
node-name = lns-1   ; not a comment: only '#' after white space is

[lns]
listen = 0.0.0.0:1701
hello-interval = 60s

[lns.radius]
timeout = 3s
retries = 3

[lns.radius.server "primary"]
address = 127.0.0.1:1812
secret = one
weight = 10

[lns.radius.server "backup"]
address = 127.0.0.2:1812
secret = two

[lac "lac1"]                # named, repeatable
host-name = lac1
allowed-from = 10.0.0.0/8, 192.0.2.0/24

[lac "lac2"]
host-name = lac2

[lns]   # an unnamed section may be reopened; its keys merge
`
	got, err := decode(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := root{
		NodeName: "lns-1   ; not a comment: only '#' after white space is",
		LNS: lns{
			Listen: netip.MustParseAddrPort("0.0.0.0:1701"),
			Hello:  time.Minute,
			Radius: radius{
				Timeout: 3 * time.Second,
				Retries: 3,
				Servers: []server{
					{Name: "primary", Address: netip.MustParseAddrPort("127.0.0.1:1812"), Secret: Secret("one"), Weight: 10},
					{Name: "backup", Address: netip.MustParseAddrPort("127.0.0.2:1812"), Secret: Secret("two")},
				},
			},
		},
		LAC: []lac{
			{Name: "lac1", HostName: "lac1", AllowedFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}},
			{Name: "lac2", HostName: "lac2"},
		},
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     string // every error, one per line, in order
		sentinel error
	}{
		{"unknown key", "[lns]\nlisten = 0.0.0.0:1701\nbogus = 1\n",
			"bras.conf:3: lns.bogus: unknown key", ErrUnknownKey},
		{"unknown root key", "bogus = 1\n",
			"bras.conf:1: bogus: unknown key", ErrUnknownKey},
		{"unknown section", "[lns]\n[nope]\nx = 1\n",
			"bras.conf:2: [nope]: unknown section", ErrUnknownSection},
		{"misspelt key", "[lns]\nhello-intreval = 1s\n",
			"bras.conf:2: lns.hello-intreval: unknown key, did you mean \"hello-interval\"?", ErrUnknownKey},
		{"misspelt section", "[lns.raduis]\n",
			"bras.conf:1: [lns.raduis]: unknown section, did you mean [lns.radius]?", ErrUnknownSection},
		{"misspelt list section", "[lns.radius.sever \"a\"]\n",
			"bras.conf:1: [lns.radius.sever]: unknown section, did you mean [lns.radius.server]?", ErrUnknownSection},
		{"no far-fetched guess", "[lns]\nx = 1\n",
			"bras.conf:2: lns.x: unknown key", ErrUnknownKey},
		{"bad list item", "[kinds]\nu16s = 1, 70000\n",
			"bras.conf:2: kinds.u16s: bad value \"70000\": want an integer from 0 to 65535", ErrBadValue},
		{"bad addr list item", "[kinds]\nas = 192.0.2.1, dns.example\n",
			"bras.conf:2: kinds.as: bad value \"dns.example\": want an IP address", ErrBadValue},
		{"unknown nested section", "[lns.nope]\n",
			"bras.conf:1: [lns.nope]: unknown section", ErrUnknownSection},
		{"key used as section", "[node-name]\n",
			"bras.conf:1: node-name: unknown section: node-name is a key, not a section", ErrUnknownSection},
		{"section used as key", "lns = 1\n",
			"bras.conf:1: lns: unknown key: lns is a section, write it as [lns]", ErrUnknownKey},
		{"duplicate key", "[lns]\nhello-interval = 1s\nhello-interval = 2s\n",
			"bras.conf:3: lns.hello-interval: duplicate: key (first set on line 2)", ErrDuplicate},
		{"duplicate key across reopened section", "[lns]\nhello-interval = 1s\n[lac \"a\"]\n[lns]\nhello-interval = 2s\n",
			"bras.conf:5: lns.hello-interval: duplicate: key (first set on line 2)", ErrDuplicate},
		{"duplicate named section", "[lac \"a\"]\n[lac \"a\"]\n",
			"bras.conf:2: lac \"a\": duplicate: section (first on line 1)", ErrDuplicate},
		{"named section not a list", "[lns \"x\"]\n",
			"bras.conf:1: lns: syntax error: section [lns] takes no name", ErrSyntax},
		{"list section without name", "[lac]\n",
			"bras.conf:1: lac: syntax error: section needs a name: [lac \"name\"]", ErrSyntax},
		{"bad int", "[kinds]\ni8 = 128\n",
			"bras.conf:2: kinds.i8: bad value \"128\": want an integer from -128 to 127", ErrBadValue},
		{"negative uint", "[kinds]\nu16 = -1\n",
			"bras.conf:2: kinds.u16: bad value \"-1\": want an integer from 0 to 65535", ErrBadValue},
		{"bad bool", "[kinds]\nb = maybe\n",
			"bras.conf:2: kinds.b: bad value \"maybe\": want true or false", ErrBadValue},
		{"bad float", "[kinds]\nf = NaN\n",
			"bras.conf:2: kinds.f: bad value \"NaN\": want a number", ErrBadValue},
		{"duration without unit", "[kinds]\nd = 60\n",
			"bras.conf:2: kinds.d: bad value \"60\": want a duration such as 30s, 1m30s or 500ms", ErrBadValue},
		{"bad addr", "[kinds]\na = 300.1.1.1\n",
			"bras.conf:2: kinds.a: bad value \"300.1.1.1\": want an IP address", ErrBadValue},
		{"addrport without port", "[kinds]\nap = 127.0.0.1\n",
			"bras.conf:2: kinds.ap: bad value \"127.0.0.1\": want address:port, such as 192.0.2.1:1812 or [2001:db8::1]:1812", ErrBadValue},
		{"prefix host bits", "[kinds]\np = 10.1.2.3/8\n",
			"bras.conf:2: kinds.p: bad value \"10.1.2.3/8\": host bits are set, did you mean 10.0.0.0/8?", ErrBadValue},
		{"prefix list item", "[kinds]\nps = 10.0.0.0/8, nope\n",
			"bras.conf:2: kinds.ps: bad value \"nope\": want a prefix such as 10.0.0.0/8", ErrBadValue},
		{"empty list item", "[kinds]\nss = a,,b\n",
			"bras.conf:2: kinds.ss: bad value \"a,,b\": want a comma-separated list without empty items", ErrBadValue},
		{"unset env", "[kinds]\nsec = env:BRAS_TEST_SURELY_UNSET\n",
			"bras.conf:2: kinds.sec: environment variable is not set: BRAS_TEST_SURELY_UNSET", ErrEnvUnset},
		{"missing secret file", "[kinds]\nsec = file:/nonexistent/bras-secret\n",
			"bras.conf:2: kinds.sec: bad value: open /nonexistent/bras-secret: no such file or directory", ErrBadValue},
		{"required missing", "[lns.radius.server \"a\"]\naddress = 127.0.0.1:1812\n",
			`bras.conf:1: [lns.radius.server "a"] secret: required key is missing`, ErrRequired},
		{"validate hook", "[lns.radius]\nretries = 11\n",
			"bras.conf:1: lns.radius: retries 11 is more than 10", nil},
		{"validate hook about a key", "[lns.radius]\nretries = 1\ntimeout = 2m\n",
			"bras.conf:3: lns.radius.timeout: 2m0s is more than a minute\nbras.conf:2: lns.radius.retries: must be set with a long timeout", nil},
		{"no equals", "[lns]\nlisten\n",
			"bras.conf:2: syntax error: want 'key = value', a [section] or a # comment", ErrSyntax},
		{"bad key", "[lns]\nlis ten = 1\n",
			"bras.conf:2: syntax error: bad key \"lis ten\" (want letters, digits, '-', '_')", ErrSyntax},
		{"unclosed header", "[lns\n",
			"bras.conf:1: syntax error: section header without a closing ']'", ErrSyntax},
		{"junk after header", "[lns] x\n",
			"bras.conf:1: syntax error: unexpected \"x\" after the section header", ErrSyntax},
		{"unquoted section name", "[lac a]\n",
			"bras.conf:1: syntax error: section name a must be a double-quoted string", ErrSyntax},
		{"unterminated quote", "[kinds]\ns = \"abc\n",
			"bras.conf:2: syntax error: s: unterminated or malformed quoted value", ErrSyntax},
		{"keys under a broken header are not misfiled", "[lns]\n[bad header\nhello-interval = 1s\n",
			"bras.conf:2: syntax error: section header without a closing ']'", ErrSyntax},
		{"every error is reported", "[lns]\nlisten = x\nhello-interval = y\nfoo = z\n",
			"bras.conf:2: lns.listen: bad value \"x\": want address:port, such as 192.0.2.1:1812 or [2001:db8::1]:1812\n" +
				"bras.conf:3: lns.hello-interval: bad value \"y\": want a duration such as 30s, 1m30s or 500ms\n" +
				"bras.conf:4: lns.foo: unknown key", ErrBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.src)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want error %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error does not wrap %v", tt.sentinel)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *config.Error: %T", err)
			}
		})
	}
}

func TestDecodeProgrammerErrors(t *testing.T) {
	var notPtr root
	if err := Decode(strings.NewReader(""), "x", notPtr); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
	var bad struct {
		M map[string]string `cfg:"m"`
	}
	if err := Decode(strings.NewReader(""), "x", &bad); err == nil || !strings.Contains(err.Error(), "unsupported field type") {
		t.Errorf("Decode into a map field: got %v, want unsupported field type", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, f := range []string{"%v", "%s", "%x", "%X", "%d", "%q", "%#v", "%+v"} {
		if got := fmt.Sprintf(f, s); strings.Contains(got, "hunter2") || strings.Contains(got, "68756e") || !strings.Contains(got, "***") {
			t.Errorf("Sprintf(%q) = %q, leaks or hides the mask", f, got)
		}
	}
	got := fmt.Sprintf("%+v", struct{ S Secret }{s})
	if strings.Contains(got, "hunter2") || strings.Contains(got, "104") {
		t.Errorf("secret in a struct printed as %q", got)
	}
	j, _ := s.MarshalJSON()
	if string(j) != `"***"` {
		t.Errorf("MarshalJSON = %s", j)
	}
	if string(s.Bytes()) != "hunter2" {
		t.Errorf("Bytes() = %q", s.Bytes())
	}
}

// TestReferenceConfig parses the documented example in testdata, which
// shows every syntax element of the format.
func TestReferenceConfig(t *testing.T) {
	t.Setenv("BRAS_RADIUS_SECRET", "testing123")
	t.Setenv("BRAS_LAC1_SECRET", "tunnel-secret")
	f, err := os.Open("testdata/reference.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r root
	if err := Decode(f, "testdata/reference.conf", &r); err != nil {
		t.Fatal(err)
	}
	if len(r.LNS.Radius.Servers) != 2 || string(r.LNS.Radius.Servers[0].Secret) != "testing123" || string(r.LAC[0].Secret) != "tunnel-secret" {
		t.Errorf("reference config decoded to %+v", r)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("[lns]\nlisten = 0.0.0.0:1701\n[lns.radius.server \"a\"]\naddress = 127.0.0.1:1812\nsecret = x\n")
	f.Add("[kinds]\ni8 = -1\nu64 = 0x10\nd = 1s\nps = 10.0.0.0/8, ::/0\nss = a\nss = b\ns = \"q # x\"\n")
	f.Add("[lac \"a]b\"]\nhost-name = x # c\n[lac \"c\"]\nallowed-from = 1.2.3.0/24\n")
	f.Add("[\n=\n[a.b.c \"\"]\nx==y\n\"\n")
	if b, err := os.ReadFile("testdata/reference.conf"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		var r1, r2 root
		err1 := Decode(strings.NewReader(src), "f.conf", &r1)
		err2 := Decode(strings.NewReader(src), "f.conf", &r2)
		// Decoding is deterministic: same result, same errors.
		if fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("two decodes disagree:\n%v\n%v", err1, err2)
		}
		if diff := cmp.Diff(r1, r2, opts); diff != "" {
			t.Fatalf("two decodes disagree (-1 +2)\n%s", diff)
		}
		if err1 == nil {
			// A decoded config formats back to text that decodes to the
			// same struct (secrets are masked by Encode, so left aside).
			var text strings.Builder
			if err := Encode(&text, &r1); err != nil {
				t.Fatalf("Encode of a decoded config: %v", err)
			}
			var r3 root
			if err := Decode(strings.NewReader(text.String()), "formatted.conf", &r3); err != nil {
				t.Fatalf("decoding the formatted config:\n%s\nerror: %v", text.String(), err)
			}
			if diff := cmp.Diff(r1, r3, opts, cmp.Comparer(func(a, b Secret) bool { return true })); diff != "" {
				t.Fatalf("formatted config decodes differently (-first +second)\n%s\ntext:\n%s", diff, text.String())
			}
			return
		}
		// Every error says where: the file name, and a line within the file.
		lines := strings.Count(src, "\n") + 1
		for _, e := range err1.(interface{ Unwrap() []error }).Unwrap() {
			var ce *Error
			if !errors.As(e, &ce) {
				if strings.HasSuffix(e.Error(), "too many errors") {
					continue
				}
				t.Fatalf("error %v is not a *config.Error", e)
			}
			if ce.File != "f.conf" || ce.Line < 0 || ce.Line > lines {
				t.Fatalf("error %v has a bad place (lines=%d)", e, lines)
			}
		}
	})
}

package aaa_test

import (
	"context"
	"crypto/md5"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/google/go-cmp/cmp"
)

const usersFile = `# lab users
alice   secret  ip=100.64.0.7 rate=10240/2048 session-timeout=3600 class=gold
bob	"two words" pool=lab dns=192.0.2.53 dns=192.0.2.54 idle-timeout=600 interim=300 route=10.0.0.0/24
`

func TestLocalUsers(t *testing.T) {
	l, err := aaa.ParseLocalUsers(strings.NewReader(usersFile))
	if err != nil {
		t.Fatal(err)
	}
	chal := []byte("challenge")
	chap := func(pw string) []byte {
		h := md5.New()
		h.Write([]byte{3})
		h.Write([]byte(pw))
		h.Write(chal)
		return h.Sum(nil)
	}
	alice := &aaa.AuthReply{Accept: true, FramedIP: netip.MustParseAddr("100.64.0.7"), RateLimit: aaa.RateLimit{DownKbps: 10240, UpKbps: 2048},
		FilterID: "10240/2048", SessionTimeout: time.Hour, Class: [][]byte{[]byte("gold")}}
	for _, tc := range []struct {
		name string
		req  aaa.AuthRequest
		want *aaa.AuthReply
	}{
		{"PAP", aaa.AuthRequest{Username: "alice", PAPPassword: []byte("secret")}, alice},
		{"PAP wrong", aaa.AuthRequest{Username: "alice", PAPPassword: []byte("secreT")}, &aaa.AuthReply{}},
		{"CHAP", aaa.AuthRequest{Username: "alice", CHAPID: 3, CHAPChallenge: chal, CHAPResponse: chap("secret")}, alice},
		{"CHAP wrong", aaa.AuthRequest{Username: "alice", CHAPID: 3, CHAPChallenge: chal, CHAPResponse: chap("x")}, &aaa.AuthReply{}},
		{"unknown", aaa.AuthRequest{Username: "carol", PAPPassword: []byte("secret")}, &aaa.AuthReply{}},
		{"quoted password", aaa.AuthRequest{Username: "bob", PAPPassword: []byte("two words")}, &aaa.AuthReply{Accept: true, FramedPool: "lab",
			DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")}, IdleTimeout: 10 * time.Minute,
			InterimInterval: 5 * time.Minute, FramedRoutes: []string{"10.0.0.0/24"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Authenticate(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, addrCmp); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	for _, bad := range []string{"alice\n", "a b ip=1.2.3\n", "a b unknown=1\n", "a b\na c\n", "a \"open\n", "a b rate=x\n", "a b ip=::1\n"} {
		if _, err := aaa.ParseLocalUsers(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("%q: err %v, want one naming the line", bad, err)
		}
	}
}

func TestSelectAuthenticator(t *testing.T) {
	l, _ := aaa.ParseLocalUsers(strings.NewReader("a b\n"))
	c, err := aaa.NewClient(aaa.ClientConfig{NASIdentifier: "x", Servers: []aaa.Server{{Addr: "127.0.0.1:1812", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aaa.SelectAuthenticator(c, l); !errors.Is(err, aaa.ErrBothAuthenticators) {
		t.Errorf("both: err %v", err)
	}
	if a, err := aaa.SelectAuthenticator(c, nil); err != nil || a != aaa.Authenticator(c) {
		t.Errorf("RADIUS only: %v %v", a, err)
	}
	if a, err := aaa.SelectAuthenticator(nil, l); err != nil || a != aaa.Authenticator(l) {
		t.Errorf("local only: %v %v", a, err)
	}
	if _, err := aaa.SelectAuthenticator(nil, nil); err == nil {
		t.Error("none accepted")
	}
}

package aaa

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Authenticator is what the LNS and LAC authenticate subscribers with:
// a RADIUS *Client, or *LocalUsers in a lab.
type Authenticator interface {
	Authenticate(ctx context.Context, req AuthRequest) (*AuthReply, error)
}

// ErrBothAuthenticators is returned by SelectAuthenticator when RADIUS and
// a local users file are both configured.
var ErrBothAuthenticators = errors.New("RADIUS and a local users file are both configured")

// SelectAuthenticator returns the one authenticator configured. The local
// users file is never a fallback for an unreachable RADIUS server:
// configuring both is an error, so a lab file left in a production
// configuration cannot silently let subscribers in.
func SelectAuthenticator(c *Client, l *LocalUsers) (Authenticator, error) {
	switch {
	case c != nil && l != nil:
		return nil, fmt.Errorf("aaa: %w", ErrBothAuthenticators)
	case c != nil:
		return c, nil
	case l != nil:
		return l, nil
	}
	return nil, fmt.Errorf("aaa: %w", ErrNoServer)
}

// LocalUsers authenticates PAP and CHAP-MD5 against a users file, for
// labs without a RADIUS server. One user per line:
//
//	# name   password   [key=value ...]
//	alice    secret     ip=100.64.0.7 rate=10240/2048 session-timeout=3600
//	bob      pw2        pool=lab dns=192.0.2.53 idle-timeout=600 interim=300 class=gold
//
// Keys: ip, netmask, pool, dns (repeatable), session-timeout,
// idle-timeout, interim (seconds), rate (as ParseRateLimit), class, route
// (repeatable, a CIDR prefix).
// A password may be written in double quotes (Go syntax) to hold spaces.
type LocalUsers struct {
	users map[string]localUser
}

type localUser struct {
	password []byte
	reply    AuthReply
}

// ParseLocalUsers reads a users file; errors name the line.
func ParseLocalUsers(r io.Reader) (*LocalUsers, error) {
	l := &LocalUsers{users: make(map[string]localUser)}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '\t'); i >= 0 {
			name, rest = name[:i], name[i+1:]+" "+rest
		}
		rest = strings.TrimSpace(rest)
		var pw string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("aaa: users line %d: password: %v", n, err)
			}
			pw, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			pw, rest, _ = strings.Cut(rest, " ")
		}
		if name == "" || pw == "" {
			return nil, fmt.Errorf("aaa: users line %d: want a name and a password", n)
		}
		if _, dup := l.users[name]; dup {
			return nil, fmt.Errorf("aaa: users line %d: %q listed twice", n, name)
		}
		u := localUser{password: []byte(pw), reply: AuthReply{Accept: true}}
		for _, kv := range strings.Fields(rest) {
			if err := u.set(kv); err != nil {
				return nil, fmt.Errorf("aaa: users line %d: %s: %v", n, kv, err)
			}
		}
		l.users[name] = u
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("aaa: users: %w", err)
	}
	return l, nil
}

func (u *localUser) set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || v == "" {
		return errors.New("want key=value")
	}
	r := &u.reply
	addr := func() (netip.Addr, error) {
		a, err := netip.ParseAddr(v)
		if err == nil && !a.Is4() {
			err = errors.New("not IPv4")
		}
		return a, err
	}
	secs := func() (time.Duration, error) {
		n, err := strconv.ParseUint(v, 10, 32)
		return time.Duration(n) * time.Second, err
	}
	var err error
	switch k {
	case "ip":
		r.FramedIP, err = addr()
	case "netmask":
		r.FramedNetmask, err = addr()
	case "pool":
		r.FramedPool = v
	case "dns":
		var a netip.Addr
		if a, err = netip.ParseAddr(v); err == nil {
			r.DNS = append(r.DNS, a)
		}
	case "session-timeout":
		r.SessionTimeout, err = secs()
	case "idle-timeout":
		r.IdleTimeout, err = secs()
	case "interim":
		r.InterimInterval, err = secs()
	case "rate":
		r.RateLimit, err = ParseRateLimit(v)
		r.FilterID = v
	case "class":
		r.Class = append(r.Class, []byte(v))
	case "route":
		if _, err = netip.ParsePrefix(v); err == nil {
			r.FramedRoutes = append(r.FramedRoutes, v)
		}
	default:
		return errors.New("unknown key")
	}
	return err
}

// Len returns the number of users.
func (l *LocalUsers) Len() int { return len(l.users) }

// Authenticate checks a PAP password or a CHAP-MD5 response (RFC 1994
// section 4.1) and returns a copy of the user's reply, or a reject.
func (l *LocalUsers) Authenticate(_ context.Context, req AuthRequest) (*AuthReply, error) {
	u, ok := l.users[req.Username]
	if !ok {
		return &AuthReply{}, nil
	}
	var good bool
	if req.PAPPassword != nil {
		good = subtle.ConstantTimeCompare(req.PAPPassword, u.password) == 1
	} else {
		h := md5.New()
		h.Write([]byte{req.CHAPID})
		h.Write(u.password)
		h.Write(req.CHAPChallenge)
		good = subtle.ConstantTimeCompare(h.Sum(nil), req.CHAPResponse) == 1
	}
	if !good {
		return &AuthReply{}, nil
	}
	r := u.reply
	r.DNS = append([]netip.Addr(nil), r.DNS...)
	r.FramedRoutes = append([]string(nil), r.FramedRoutes...)
	r.Class = nil
	for _, c := range u.reply.Class {
		r.Class = append(r.Class, append([]byte(nil), c...))
	}
	return &r, nil
}

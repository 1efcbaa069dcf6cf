// Package radiuslab writes a complete, minimal FreeRADIUS 3.2 configuration
// (Debian's freeradius package) for the lab and the tests: PAP and CHAP
// against a users file built from Go values, accounting written to a
// detail file that can be read back, and the clients allowed to ask.
package radiuslab

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Binary is where Debian installs the server.
const Binary = "/usr/sbin/freeradius"

// Attr is one attribute of a users-file entry, by its FreeRADIUS
// dictionary name; Tag, when not zero, makes it a tagged RFC 2868
// attribute (Tunnel-Type:1).
type Attr struct {
	Name  string
	Tag   uint8
	Value string
}

// User is one subscriber the server knows. Password is its
// Cleartext-Password, good for PAP and CHAP; Reply goes into its
// Access-Accept in order.
type User struct {
	Name     string
	Password string
	Reply    []Attr
	// Check are more attributes the request must carry (Name == Value,
	// compared as FreeRADIUS does): without them the entry does not match
	// and the user is rejected.
	Check []Attr
}

// Client is a NAS allowed to send requests (a clients.conf entry).
type Client struct {
	Name   string
	Addr   netip.Prefix
	Secret string
}

// Config is a server to write.
type Config struct {
	// Dir receives the configuration; it must exist. The detail file and
	// logs are written below it.
	Dir string
	// AuthAddr and AcctAddr are where the server listens.
	AuthAddr netip.AddrPort
	AcctAddr netip.AddrPort
	// Secret is shared with 127.0.0.1 (and every client without one).
	Secret  string
	Clients []Client
	Users   []User
	// RequireMessageAuthenticator makes the server drop Access-Requests
	// without Message-Authenticator from every client.
	RequireMessageAuthenticator bool
}

// DetailPath is the detail file accounting requests are written to.
func (c Config) DetailPath() string { return filepath.Join(c.Dir, "acct", "detail") }

// PidPath is where the server writes its pid.
func (c Config) PidPath() string { return filepath.Join(c.Dir, "run", "radiusd.pid") }

// Args are the arguments to run the server in the foreground with logs
// on standard output; debug adds -X (full packet traces).
func (c Config) Args(debug bool) []string {
	a := []string{"-f", "-d", c.Dir}
	if debug {
		a = append(a, "-X")
	}
	return a
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// quote writes a FreeRADIUS double-quoted string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

// Write writes radiusd.conf, dictionary, users and the directories the
// server needs into c.Dir. The server runs as the invoking user (no
// user/group settings), which lets root tests start it without the
// freerad account owning the files.
func Write(c Config) error {
	if c.Dir == "" || !filepath.IsAbs(c.Dir) {
		return fmt.Errorf("radiuslab: Dir %q must be an absolute path", c.Dir)
	}
	if !c.AuthAddr.IsValid() || !c.AcctAddr.IsValid() {
		return errors.New("radiuslab: AuthAddr and AcctAddr must be set")
	}
	if c.Secret == "" {
		return errors.New("radiuslab: empty Secret")
	}
	for _, d := range []string{"acct", "log", "run"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o700); err != nil {
			return fmt.Errorf("radiuslab: %w", err)
		}
	}
	users, err := usersFile(c.Users)
	if err != nil {
		return err
	}
	files := map[string]string{
		"radiusd.conf": radiusdConf(c),
		"dictionary":   "$INCLUDE /usr/share/freeradius/dictionary\n",
		"users":        users,
		"acct_users":   "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), []byte(body), 0o600); err != nil {
			return fmt.Errorf("radiuslab: %w", err)
		}
	}
	return nil
}

func usersFile(users []User) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by bras radiuslab.\n")
	for i, u := range users {
		if u.Name == "" {
			return "", fmt.Errorf("radiuslab: users[%d]: empty name", i)
		}
		fmt.Fprintf(&b, "%s\tCleartext-Password := %s", quote(u.Name), quote(u.Password))
		for j, a := range u.Check {
			if !nameRE.MatchString(a.Name) || a.Tag != 0 {
				return "", fmt.Errorf("radiuslab: users[%d].check[%d]: bad attribute %q", i, j, a.Name)
			}
			fmt.Fprintf(&b, ", %s == %s", a.Name, quote(a.Value))
		}
		b.WriteString("\n")
		for j, a := range u.Reply {
			if !nameRE.MatchString(a.Name) {
				return "", fmt.Errorf("radiuslab: users[%d].reply[%d]: bad attribute name %q", i, j, a.Name)
			}
			if a.Tag > 0x1f {
				return "", fmt.Errorf("radiuslab: users[%d].reply[%d]: tag %d above 31", i, j, a.Tag)
			}
			name := a.Name
			if a.Tag != 0 {
				name = fmt.Sprintf("%s:%d", a.Name, a.Tag)
			}
			sep := ","
			if j == len(u.Reply)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "\t%s = %s%s\n", name, quote(a.Value), sep)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func radiusdConf(c Config) string {
	var clients strings.Builder
	reqMA := "no"
	if c.RequireMessageAuthenticator {
		reqMA = "yes"
	}
	all := []Client{{Name: "localhost", Addr: netip.MustParsePrefix("127.0.0.1/32"), Secret: c.Secret}}
	if a := c.AuthAddr.Addr(); !a.IsLoopback() && !a.IsUnspecified() {
		// The server's own address, for probes sent from its host.
		all = append(all, Client{Name: "self", Addr: netip.PrefixFrom(a, a.BitLen()), Secret: c.Secret})
	}
	all = append(all, c.Clients...)
	for i, cl := range all {
		secret := cl.Secret
		if secret == "" {
			secret = c.Secret
		}
		fmt.Fprintf(&clients, "client c%d {\n\tipaddr = %s\n\tsecret = %s\n\trequire_message_authenticator = %s\n\tshortname = %s\n}\n",
			i, cl.Addr.Masked(), quote(secret), reqMA, quote(cl.Name))
	}
	return fmt.Sprintf(`# Written by bras radiuslab: a minimal FreeRADIUS 3.2 server.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = %[1]s
confdir = ${raddbdir}
modconfdir = ${confdir}
certdir = ${confdir}
cadir = ${confdir}
logdir = ${raddbdir}/log
radacctdir = ${raddbdir}/acct
run_dir = ${raddbdir}/run
db_dir = ${raddbdir}
libdir = /usr/lib/freeradius
pidfile = ${run_dir}/radiusd.pid
name = freeradius
max_request_time = 30
cleanup_delay = 0
max_requests = 65536
hostname_lookups = no
log {
	destination = stdout
	colourise = no
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = 4
	max_servers = 16
	min_spare_servers = 2
	max_spare_servers = 8
	max_requests_per_server = 0
}
%[2]s
modules {
	always ok {
		rcode = ok
	}
	pap {
		normalise = yes
	}
	chap {
	}
	files {
		filename = ${confdir}/users
		acctusersfile = ${confdir}/acct_users
	}
	detail {
		filename = ${radacctdir}/detail
		escape_filenames = no
		permissions = 0600
		header = "%%t"
		log_packet_header = no
	}
}
server default {
	listen {
		type = auth
		ipaddr = %[3]s
		port = %[4]d
	}
	listen {
		type = acct
		ipaddr = %[5]s
		port = %[6]d
	}
	authorize {
		chap
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type CHAP {
			chap
		}
	}
	preacct {
	}
	accounting {
		detail
		ok
	}
	post-auth {
		Post-Auth-Type REJECT {
			ok
		}
	}
}
`, c.Dir, clients.String(), c.AuthAddr.Addr(), c.AuthAddr.Port(), c.AcctAddr.Addr(), c.AcctAddr.Port())
}

// Probe sends a Status-Server (RFC 5997) with a Message-Authenticator to
// addr until an authentic answer comes back or ctx ends.
func Probe(ctx context.Context, addr netip.AddrPort, secret string) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return fmt.Errorf("radiuslab: probe: %w", err)
	}
	defer c.Close()
	return ProbeConn(ctx, c, secret)
}

// ProbeConn is Probe over a connected UDP socket (one opened in a
// network namespace, say).
func ProbeConn(ctx context.Context, c net.Conn, secret string) error {
	req := make([]byte, 38)
	req[0] = 12 // Status-Server
	if _, err := rand.Read(req[1:20]); err != nil {
		return err
	}
	req[2], req[3] = 0, 38
	req[20], req[21] = 80, 18 // Message-Authenticator
	m := hmac.New(md5.New, []byte(secret))
	m.Write(req)
	m.Sum(req[22:22])
	buf := make([]byte, 4096)
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("radiuslab: probe: %w", ctx.Err())
		}
		_, _ = c.Write(req)
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if n >= 20 && buf[1] == req[1] {
			h := md5.New()
			h.Write(buf[:4])
			h.Write(req[4:20])
			h.Write(buf[20:n])
			h.Write([]byte(secret))
			if hmac.Equal(h.Sum(nil), buf[4:20]) {
				return nil
			}
			return errors.New("radiuslab: probe: answer with a wrong authenticator (secret mismatch?)")
		}
	}
}

// Record is one accounting request as FreeRADIUS wrote it to the detail
// file: the time header and the attributes in order, values as printed
// (strings unquoted).
type Record struct {
	Time  string
	Attrs []Attr
}

// Get returns the first value of the attribute name, or "".
func (r Record) Get(name string) string {
	for _, a := range r.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// All returns every value of the attribute name.
func (r Record) All(name string) []string {
	var out []string
	for _, a := range r.Attrs {
		if a.Name == name {
			out = append(out, a.Value)
		}
	}
	return out
}

// ParseDetail reads a FreeRADIUS detail file: records separated by blank
// lines, each a time header then "\tName = value" lines.
func ParseDetail(r io.Reader) ([]Record, error) {
	var out []Record
	var cur *Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			cur = nil
		case cur == nil:
			out = append(out, Record{Time: line})
			cur = &out[len(out)-1]
		default:
			name, val, ok := strings.Cut(strings.TrimSpace(line), " = ")
			if !ok {
				return out, fmt.Errorf("radiuslab: detail line %q", line)
			}
			a := Attr{Name: name, Value: val}
			if n, tag, ok := strings.Cut(name, ":"); ok && len(tag) > 0 && len(tag) <= 2 {
				var t int
				if _, err := fmt.Sscanf(tag, "%d", &t); err == nil {
					a.Name, a.Tag = n, uint8(t)
				}
			}
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				a.Value = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(val[1 : len(val)-1])
			}
			cur.Attrs = append(cur.Attrs, a)
		}
	}
	return out, sc.Err()
}

// Command returns the command that runs the server of c in the
// foreground, logging to standard output; prefix, when given, runs it
// through another program (for example "ip", "netns", "exec", "lab-radius").
// The caller starts it, waits for Probe, and stops it with SIGTERM.
func Command(ctx context.Context, c Config, debug bool, prefix ...string) *exec.Cmd {
	args := append(append([]string(nil), prefix...), Binary)
	args = append(args, c.Args(debug)...)
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

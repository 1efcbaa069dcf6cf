package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/table"
)

// Env is what a command runs with: its streams, environment and clock.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	// Terminal says Stdin is a terminal, where terminate all asks for
	// confirmation.
	Terminal bool
	Getenv   func(string) (string, bool)
	HTTP     *http.Client     // nil: a client with a 30 s timeout
	Now      func() time.Time // nil: time.Now
}

// OSEnv is the environment of the bras binary.
func OSEnv() Env {
	term := false
	if fi, err := os.Stdin.Stat(); err == nil {
		term = fi.Mode()&os.ModeCharDevice != 0
	}
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Terminal: term, Getenv: os.LookupEnv}
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// apiFlags are the flags every API command shares.
type apiFlags struct {
	url       string
	tokenFile string
}

func (a *apiFlags) register(fs *flag.FlagSet, getenv func(string) (string, bool)) {
	def := "http://" + api.DefaultListen
	if v, ok := getenv("BRAS_API"); ok && v != "" {
		def = v
	}
	fs.StringVar(&a.url, "api", def, "URL of the bras HTTP API (env BRAS_API)")
	fs.StringVar(&a.tokenFile, "token-file", "", "file holding the API bearer token (default: env BRAS_API_TOKEN)")
}

func (a *apiFlags) client(env Env) (*api.Client, error) {
	var tok []byte
	switch {
	case a.tokenFile != "":
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %w", err)
		}
		tok = b
	default:
		v, _ := env.Getenv("BRAS_API_TOKEN")
		tok = []byte(v)
	}
	if strings.TrimSpace(string(tok)) == "" {
		return nil, errors.New("no API token: give -token-file FILE or set BRAS_API_TOKEN")
	}
	return api.NewClient(a.url, tok, env.HTTP)
}

func newFlags(name, usage string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: "+usage)
		fs.PrintDefaults()
	}
	return fs
}

// filterFlag is one filter of a session: its flag and query parameter.
type filterFlag struct {
	flag  string
	field api.Field
	help  string
}

var filterFlags = []filterFlag{
	{"id", api.FieldID, "session ID (Acct-Session-Id)"},
	{"user", api.FieldUser, "user name, with realm as authenticated"},
	{"ip", api.FieldIP, "IPv4 address, an address inside the session's IPv6 prefixes, or a prefix"},
	{"mac", api.FieldMAC, "subscriber MAC address"},
	{"circuit-id", api.FieldCircuitID, "Agent-Circuit-Id of the access line"},
	{"remote-id", api.FieldRemoteID, "Agent-Remote-Id of the access line"},
	{"lac", api.FieldLAC, "LAC host name or address"},
	{"tunnel", api.FieldTunnel, "local L2TP tunnel ID"},
	{"state", api.FieldState, "session state (up, negotiating, ...)"},
}

// filters are the filter flags of a command.
type filters struct {
	vals  map[api.Field]*string
	regex bool
}

func (f *filters) register(fs *flag.FlagSet) {
	f.vals = map[api.Field]*string{}
	for _, ff := range filterFlags {
		help := ff.help
		if ff.field.Regexp() {
			help += "; ~EXPR for a regular expression"
		}
		f.vals[ff.field] = fs.String(ff.flag, "", "only sessions with this "+help)
	}
	fs.Var(aliasFlag{f.vals[api.FieldIP]}, "addr", "the same as -ip")
	fs.BoolVar(&f.regex, "regex", false, "every text filter is a regular expression (RE2, unanchored), as with ~")
}

// aliasFlag sets the string of another flag.
type aliasFlag struct{ p *string }

func (a aliasFlag) String() string {
	if a.p == nil {
		return ""
	}
	return *a.p
}
func (a aliasFlag) Set(v string) error { *a.p = v; return nil }

// values is the API query of the filters: name=value, or name~=expr for
// a value that starts with ~ (or every text filter with -regex).
func (f *filters) values() url.Values {
	q := url.Values{}
	for _, ff := range filterFlags {
		v := *f.vals[ff.field]
		if v == "" {
			continue
		}
		key := ff.field.String()
		if re, ok := strings.CutPrefix(v, "~"); ok && ff.field.Regexp() {
			key, v = key+"~", re
		} else if f.regex && ff.field.Regexp() {
			key += "~"
		}
		q.Set(key, v)
	}
	return q
}

// DefaultColumns are the columns of bras show sessions without -o.
const DefaultColumns = "id,user,state,ip,mac,lac,tunnel,uptime,rate"

// Show runs bras show sessions|tunnels|pools|stats|version.
func Show(ctx context.Context, args []string, env Env) error {
	const usage = "bras show sessions|tunnels|pools|stats|version [flags] (bras show WHAT -h for its flags)"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, "usage: "+usage)
		return flag.ErrHelp
	}
	what, rest := args[0], args[1:]
	switch what {
	case "sessions", "session":
		return showSessions(ctx, "bras show sessions", rest, env, false)
	case "tunnels", "tunnel":
		return showTunnels(ctx, rest, env)
	case "pools", "pool":
		return showPools(ctx, rest, env)
	case "stats":
		return showStats(ctx, rest, env)
	case "version":
		return showVersion(ctx, rest, env)
	}
	fmt.Fprintln(env.Stderr, "usage: "+usage)
	return fmt.Errorf("unknown thing to show %q (want sessions, tunnels, pools, stats or version)", what)
}

// Sessions is bras sessions: bras show sessions with every column of the
// API's CSV unless -o is given.
func Sessions(ctx context.Context, args []string, env Env) error {
	return showSessions(ctx, "bras sessions", args, env, true)
}

// outputFlags are -json and -format.
type outputFlags struct {
	json   bool
	format string
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "print JSON (the same as -format json)")
	fs.StringVar(&o.format, "format", "table", "output format: table, csv or json")
}

func (o *outputFlags) get() (table.Format, error) {
	if o.json {
		return table.JSON, nil
	}
	f, err := table.ParseFormat(o.format)
	if err != nil {
		return "", fmt.Errorf("-format: %w", err)
	}
	return f, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func showSessions(ctx context.Context, name string, args []string, env Env, legacy bool) error {
	fs := newFlags(name, name+" [-o COLUMNS] [-sort [-]COLUMN] [-limit N] [-offset N] [-FILTER VALUE | -FILTER ~REGEXP]... [-json]", env)
	var af apiFlags
	af.register(fs, env.Getenv)
	var ff filters
	ff.register(fs)
	var of outputFlags
	of.register(fs)
	def := DefaultColumns
	if legacy {
		def = ""
	}
	cols := fs.String("o", def, "columns, comma-separated; \"all\" for every one, \"help\" to list them")
	sortBy := fs.String("sort", "", "sort by this column, -COLUMN for descending (default id)")
	limit := fs.Int("limit", 0, "at most this many sessions (0: all)")
	offset := fs.Int("offset", 0, "skip this many sessions of the sorted list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (filters are flags: -user, -ip, -mac, ...)", fs.Arg(0))
	}
	if *cols == "help" {
		t := &table.Table{Columns: []string{"column", "meaning"}}
		for _, c := range api.Columns {
			t.Rows = append(t.Rows, []string{c.Name, c.Help})
		}
		return t.WriteText(env.Stdout)
	}
	var columns []api.Column
	if *cols == "all" {
		columns = api.Columns
	} else if *cols != "" {
		var err error
		if columns, err = api.ParseColumns(*cols); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
	}
	format, err := of.get()
	if err != nil {
		return err
	}
	q := ff.values()
	if *sortBy != "" {
		q.Set("sort", *sortBy)
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	if *offset != 0 {
		q.Set("offset", strconv.Itoa(*offset))
	}
	c, err := af.client(env)
	if err != nil {
		return err
	}
	ss, total, err := c.SessionsPage(ctx, q)
	if err != nil {
		return err
	}
	if format == table.JSON {
		if ss == nil {
			ss = []api.Session{}
		}
		return writeJSON(env.Stdout, ss)
	}
	var t *table.Table
	if columns == nil {
		t = api.SessionsTable(ss)
	} else {
		t = api.ColumnsTable(ss, columns, env.now())
	}
	if err := t.Write(env.Stdout, format); err != nil {
		return err
	}
	if len(ss) < total {
		fmt.Fprintf(env.Stderr, "%d of %d sessions (from %d; -offset and -limit page)\n", len(ss), total, *offset)
	}
	return nil
}

// parseShow adds the API and output flags to fs (which holds the
// command's own), parses args, which must be flags only, and returns the
// output format and the daemon's API client.
func parseShow(fs *flag.FlagSet, args []string, env Env) (table.Format, *api.Client, error) {
	var af apiFlags
	af.register(fs, env.Getenv)
	var of outputFlags
	of.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return "", nil, err
	}
	format, err := of.get()
	if err != nil {
		return "", nil, err
	}
	c, err := af.client(env)
	return format, c, err
}

func showTunnels(ctx context.Context, args []string, env Env) error {
	format, c, err := parseShow(newFlags("bras show tunnels", "bras show tunnels [-json]", env), args, env)
	if err != nil {
		return err
	}
	ts, err := c.Tunnels(ctx)
	if err != nil {
		return err
	}
	if format == table.JSON {
		if ts == nil {
			ts = []api.Tunnel{}
		}
		return writeJSON(env.Stdout, ts)
	}
	t := &table.Table{Columns: []string{"tunnel", "peer_tunnel", "peer", "host_name", "state", "sessions", "uptime"}}
	for _, tu := range ts {
		t.Rows = append(t.Rows, []string{strconv.Itoa(int(tu.LocalID)), strconv.Itoa(int(tu.PeerID)), tu.Peer, tu.HostName,
			tu.State, strconv.Itoa(tu.Sessions), api.Uptime(tu.Established, env.now())})
	}
	return t.Write(env.Stdout, format)
}

func showPools(ctx context.Context, args []string, env Env) error {
	format, c, err := parseShow(newFlags("bras show pools", "bras show pools [-json]", env), args, env)
	if err != nil {
		return err
	}
	ps, err := c.Pools(ctx)
	if err != nil {
		return err
	}
	if format == table.JSON {
		if ps == nil {
			ps = []api.Pool{}
		}
		return writeJSON(env.Stdout, ps)
	}
	return api.PoolsTable(ps).Write(env.Stdout, format)
}

func showStats(ctx context.Context, args []string, env Env) error {
	fs := newFlags("bras show stats", "bras show stats [-match REGEXP] [-json]", env)
	match := fs.String("match", "", "only the metrics whose name matches this regular expression")
	format, c, err := parseShow(fs, args, env)
	if err != nil {
		return err
	}
	re, err := regexp.Compile(*match)
	if err != nil {
		return fmt.Errorf("-match: %w", err)
	}
	all, err := c.Stats(ctx)
	if err != nil {
		return err
	}
	ss := []metrics.Sample{}
	for _, s := range all {
		if re.MatchString(s.Name) {
			ss = append(ss, s)
		}
	}
	if format == table.JSON {
		return writeJSON(env.Stdout, ss)
	}
	t := &table.Table{Columns: []string{"metric", "labels", "value"}}
	for _, s := range ss {
		keys := make([]string, 0, len(s.Labels))
		for k := range s.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ls []string
		for _, k := range keys {
			ls = append(ls, k+"="+s.Labels[k])
		}
		t.Rows = append(t.Rows, []string{s.Name, strings.Join(ls, ","), strconv.FormatFloat(s.Value, 'f', -1, 64)})
	}
	return t.Write(env.Stdout, format)
}

func showVersion(ctx context.Context, args []string, env Env) error {
	format, c, err := parseShow(newFlags("bras show version", "bras show version [-json]: the daemon's build", env), args, env)
	if err != nil {
		return err
	}
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	if format == table.JSON {
		return writeJSON(env.Stdout, v)
	}
	_, err = fmt.Fprintln(env.Stdout, v)
	return err
}

// Version is bras version: this binary's build, and with -daemon the
// daemon's too.
func Version(ctx context.Context, args []string, env Env) error {
	fs := newFlags("bras version", "bras version [-daemon] [-json]", env)
	var af apiFlags
	af.register(fs, env.Getenv)
	daemon := fs.Bool("daemon", false, "also ask the daemon's API for its build")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	v := api.BuildVersion()
	var dv *api.Version
	if *daemon {
		c, err := af.client(env)
		if err != nil {
			return err
		}
		d, err := c.Version(ctx)
		if err != nil {
			return err
		}
		dv = &d
	}
	if *asJSON {
		return writeJSON(env.Stdout, struct {
			CLI    api.Version  `json:"cli"`
			Daemon *api.Version `json:"daemon,omitempty"`
		}{v, dv})
	}
	fmt.Fprintln(env.Stdout, v)
	if dv != nil {
		fmt.Fprintln(env.Stdout, "daemon: "+dv.String())
	}
	return nil
}

func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// ErrNotConfirmed is returned by bras terminate all when the operator did
// not confirm: nothing was terminated.
var ErrNotConfirmed = errors.New("not confirmed: nothing was terminated")

// Terminate is bras terminate: end the sessions the filters select, or
// every session with "all" once confirmed (-yes, or an answer on a
// terminal).
func Terminate(ctx context.Context, args []string, env Env) error {
	const usage = "bras terminate [-FILTER VALUE | -FILTER ~REGEXP]... [-dry-run]\n       bras terminate all [-yes] [-dry-run]"
	fs := newFlags("bras terminate", usage, env)
	var af apiFlags
	af.register(fs, env.Getenv)
	var ff filters
	ff.register(fs)
	yes := fs.Bool("yes", false, "terminate all without asking")
	dry := fs.Bool("dry-run", false, "list the sessions that would end; end none")
	all := false
	if len(args) > 0 && args[0] == "all" {
		all, args = true, args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 1 && fs.Arg(0) == "all" && !all {
		all = true
	} else if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q (filters are flags: -id, -user, -ip, -mac, -lac, -tunnel, ...; or all)", fs.Arg(0))
	}
	q := ff.values()
	if all && len(q) > 0 {
		return errors.New("all and a filter together: give one of them")
	}
	if !all && len(q) == 0 {
		fs.Usage()
		return errors.New("no filter: name the sessions (-id, -user, -ip, -mac, -lac, -tunnel, ...) or terminate all")
	}
	c, err := af.client(env)
	if err != nil {
		return err
	}
	req := api.TerminateRequest{All: all, DryRun: *dry}
	if !all {
		req.Filter = map[string]string{}
		for k := range q {
			req.Filter[k] = q.Get(k)
		}
	}
	if all && !*dry {
		// How many would end, for the question and the refusal.
		probe, err := c.Terminate(ctx, api.TerminateRequest{All: true, DryRun: true})
		if err != nil {
			return err
		}
		if probe.Matched == 0 {
			fmt.Fprintln(env.Stdout, "no sessions: nothing to terminate")
			return nil
		}
		if !*yes {
			if !env.Terminal {
				fmt.Fprintf(env.Stderr, "bras terminate all would end all %d sessions; standard input is not a terminal to ask on, so nothing was terminated (give -yes)\n", probe.Matched)
				return ErrNotConfirmed
			}
			fmt.Fprintf(env.Stderr, "terminate all %d sessions (Admin-Reset)? [y/N] ", probe.Matched)
			line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				return ErrNotConfirmed
			}
		}
		req.Confirm = true
	}
	res, err := c.Terminate(ctx, req)
	if err != nil {
		return err
	}
	if res.DryRun {
		fmt.Fprintf(env.Stdout, "would terminate %d %s (dry run; nothing was terminated)\n", res.Matched, plural(res.Matched, "session"))
		for _, id := range res.IDs {
			fmt.Fprintln(env.Stdout, "  "+id)
		}
		return nil
	}
	if res.Matched == 0 {
		return errors.New("no session matches: nothing was terminated")
	}
	fmt.Fprintf(env.Stdout, "terminated %d %s (admin-reset)\n", res.Terminated, plural(res.Terminated, "session"))
	for _, id := range res.IDs {
		fmt.Fprintln(env.Stdout, "  "+id)
	}
	if len(res.Errors) > 0 {
		for _, e := range res.Errors {
			fmt.Fprintln(env.Stderr, "  "+e)
		}
		return fmt.Errorf("%d of %d sessions could not be terminated", len(res.Errors), res.Matched)
	}
	return nil
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// Disconnect is bras disconnect ID...: end sessions by their IDs.
func Disconnect(ctx context.Context, args []string, env Env) error {
	fs := newFlags("bras disconnect", "bras disconnect [-api URL] [-token-file F] SESSION-ID...", env)
	var af apiFlags
	af.register(fs, env.Getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no session ID given (the id column of bras show sessions, the Acct-Session-Id)")
	}
	c, err := af.client(env)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range fs.Args() {
		if err := c.Disconnect(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(env.Stdout, "disconnected %s (admin-reset)\n", id)
	}
	return errors.Join(errs...)
}

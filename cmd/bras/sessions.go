package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/table"
)

func init() {
	register("sessions", "list subscriber sessions through the HTTP API", func(ctx context.Context, args []string) error {
		return runSessions(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
	register("disconnect", "disconnect sessions (Admin-Reset) through the HTTP API", func(ctx context.Context, args []string) error {
		return runDisconnect(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
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

func (a *apiFlags) client(getenv func(string) (string, bool)) (*api.Client, error) {
	var tok []byte
	switch {
	case a.tokenFile != "":
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %w", err)
		}
		tok = b
	default:
		v, _ := getenv("BRAS_API_TOKEN")
		tok = []byte(v)
	}
	if strings.TrimSpace(string(tok)) == "" {
		return nil, errors.New("no API token: give -token-file FILE or set BRAS_API_TOKEN")
	}
	return api.NewClient(a.url, tok, nil)
}

func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("bras sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bras sessions [-api URL] [-token-file F] [-user U] [-addr A] [-lac L] [-state S] [-limit N] [-format table|csv|json]")
		fs.PrintDefaults()
	}
	var af apiFlags
	af.register(fs, getenv)
	user := fs.String("user", "", "only the sessions of this user")
	addr := fs.String("addr", "", "only the session with this subscriber address")
	lac := fs.String("lac", "", "only the sessions from this LAC (host name)")
	state := fs.String("state", "", "only the sessions in this state")
	limit := fs.Int("limit", 0, "at most this many sessions (0: all)")
	format := fs.String("format", "table", "output format: table, csv or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (filters are flags: -user, -addr, -lac, -state)", fs.Arg(0))
	}
	f, err := table.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("-format: %w", err)
	}
	filter := api.SessionFilter{User: *user, LAC: *lac, State: *state, Limit: *limit}
	if *addr != "" {
		a, err := netip.ParseAddr(*addr)
		if err != nil {
			return fmt.Errorf("-addr: %q is not an IP address", *addr)
		}
		filter.Addr = a
	}
	if *limit < 0 || *limit > api.MaxLimit {
		return fmt.Errorf("-limit: %d is not from 0 to %d", *limit, api.MaxLimit)
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	ss, err := c.Sessions(ctx, filter)
	if err != nil {
		return err
	}
	if f == table.JSON {
		if ss == nil {
			ss = []api.Session{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ss)
	}
	return api.SessionsTable(ss).Write(stdout, f)
}

func runDisconnect(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("bras disconnect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bras disconnect [-api URL] [-token-file F] SESSION-ID...")
		fs.PrintDefaults()
	}
	var af apiFlags
	af.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no session ID given (the id column of bras sessions, the Acct-Session-Id)")
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range fs.Args() {
		if err := c.Disconnect(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(stdout, "disconnected %s (admin-reset)\n", id)
	}
	return errors.Join(errs...)
}

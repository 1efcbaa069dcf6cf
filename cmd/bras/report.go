package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/table"
)

func init() {
	register("report", "billing reports from PostgreSQL: "+strings.Join(accounting.ReportNames, ", "), func(ctx context.Context, args []string) error {
		return runReport(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := dsnFlag(fs, getenv)
	var (
		from   = fs.String("from", "", "start of the period, 2006-01-02 or RFC 3339, UTC (default: start of this month)")
		to     = fs.String("to", "", "end of the period, exclusive (default: now)")
		user   = fs.String("user", "", "only this subscriber (usage, sessions)")
		by     = fs.String("by", "day", "usage period: day or month")
		addr   = fs.String("addr", "", "the address (ip)")
		at     = fs.String("at", "", "the moment (ip; default now)")
		active = fs.Bool("active", false, "only sessions still open (sessions)")
		node   = fs.String("node", "", "only this LNS node (sessions, causes)")
		limit  = fs.Int("limit", 10, "rows (top)")
		format = fs.String("format", "table", "output: table, csv or json")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bras report usage|sessions|ip|top|causes|lac|realm [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	name := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	f, err := table.ParseFormat(*format)
	if err != nil {
		return err
	}
	// The same parameter parsing as the HTTP API.
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("from", *from)
	set("to", *to)
	set("user", *user)
	set("by", *by)
	set("addr", *addr)
	set("at", *at)
	set("node", *node)
	set("active", strconv.FormatBool(*active))
	set("limit", strconv.Itoa(*limit))
	p, err := accounting.ParseReportParams(v)
	if err != nil {
		return err
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return fmt.Errorf("-from %s is not before -to %s", *from, *to)
	}
	db, err := openChecked(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := accounting.NewReports(db).Run(ctx, name, p)
	if err != nil {
		return err
	}
	return t.Write(stdout, f)
}

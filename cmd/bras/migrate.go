package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/table"
	"github.com/bras-project/bras/migrations"
	"github.com/jackc/pgx/v5"
)

func init() {
	register("migrate", "apply (up) or show (status) the PostgreSQL schema migrations", func(ctx context.Context, args []string) error {
		return runMigrate(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
}

// dsnFlag registers -dsn, defaulting to BRAS_DATABASE_URL.
func dsnFlag(fs *flag.FlagSet, getenv func(string) (string, bool)) *string {
	def, _ := getenv("BRAS_DATABASE_URL")
	return fs.String("dsn", def, "PostgreSQL connection string (env BRAS_DATABASE_URL)")
}

func needDSN(dsn string) error {
	if dsn == "" {
		return errors.New("no database: give -dsn postgres://... or set BRAS_DATABASE_URL")
	}
	return nil
}

// connect opens one connection with a deadline on the dial.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad -dsn: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s on %s:%d: %w", cfg.Database, cfg.Host, cfg.Port, err)
	}
	return c, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := dsnFlag(fs, getenv)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bras migrate up|status [-dsn DSN]\n\n  up      apply the migrations the database lacks\n  status  list the migrations and whether they are applied\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	action := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil { // flags may follow the action
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if action != "up" && action != "status" {
		return fmt.Errorf("unknown action %q (want up or status)", action)
	}
	if err := needDSN(*dsn); err != nil {
		return err
	}
	c, err := connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if action == "up" {
		done, err := migrations.Up(ctx, c)
		for _, m := range done {
			fmt.Fprintf(stdout, "applied %04d_%s\n", m.Version, m.Name)
		}
		if err != nil {
			return err
		}
		if len(done) == 0 {
			fmt.Fprintf(stdout, "schema already at version %d\n", migrations.Latest())
		}
		return nil
	}
	st, err := migrations.List(ctx, c)
	if err != nil {
		return err
	}
	t := &table.Table{Columns: []string{"version", "name", "applied", "applied_at"}}
	pending := 0
	for _, s := range st {
		at := ""
		if s.Applied {
			at = s.AppliedAt.UTC().Format(time.RFC3339)
		} else {
			pending++
		}
		t.Rows = append(t.Rows, []string{fmt.Sprintf("%04d", s.Version), s.Name, strconv.FormatBool(s.Applied), at})
	}
	if err := t.WriteText(stdout); err != nil {
		return err
	}
	if pending > 0 {
		fmt.Fprintf(stdout, "%d migration(s) pending: run bras migrate up\n", pending)
	} else {
		fmt.Fprintf(stdout, "schema up to date (version %d)\n", migrations.Latest())
	}
	return nil
}

// openChecked opens the accounting database and refuses a schema older
// than this binary needs.
func openChecked(ctx context.Context, dsn string) (*accounting.DB, error) {
	if err := needDSN(dsn); err != nil {
		return nil, err
	}
	db, err := accounting.Open(ctx, dsn, 2)
	if err != nil {
		return nil, err
	}
	if err := accounting.CheckSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

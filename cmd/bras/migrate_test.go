package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/testenv"
)

// TestMigrateAndReport drives bras migrate and bras report against a real
// PostgreSQL: a report on an empty database names the fix, migrate up
// applies the schema once, then reports run.
func TestMigrateAndReport(t *testing.T) {
	cluster := testenv.NewPostgresCluster(t)
	ctx := context.Background()
	dsn, err := cluster.CreateDatabase(ctx, "cmd")
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "BRAS_DATABASE_URL" {
			return dsn, true
		}
		return "", false
	}
	run := func(f func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error, args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := f(ctx, args, &out, &errb)
		return out.String(), err
	}
	migrate := func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return runMigrate(ctx, a, o, e, env) }
	report := func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return runReport(ctx, a, o, e, env) }

	_, err = run(report, "usage", "-from", "2026-01-01", "-to", "2026-02-01")
	if !errors.Is(err, accounting.ErrSchemaOld) || !strings.Contains(err.Error(), "bras migrate up") {
		t.Errorf("report on an empty database: %v; want ErrSchemaOld naming bras migrate up", err)
	}
	if out, err := run(migrate, "status"); err != nil || !strings.Contains(out, "pending: run bras migrate up") {
		t.Errorf("status before: %q, %v", out, err)
	}
	if out, err := run(migrate, "up"); err != nil || !strings.Contains(out, "applied 0001_sessions") {
		t.Errorf("up: %q, %v", out, err)
	}
	if out, err := run(migrate, "up", "-dsn", dsn); err != nil || !strings.Contains(out, "already at version") {
		t.Errorf("second up: %q, %v", out, err)
	}
	if out, err := run(migrate, "status"); err != nil || !strings.Contains(out, "schema up to date") {
		t.Errorf("status after: %q, %v", out, err)
	}
	out, err := run(report, "usage", "-from", "2026-01-01", "-to", "2026-02-01", "-format", "csv")
	if err != nil || out != "user,period,sessions,online_seconds,in_octets,out_octets,in6_octets,out6_octets\n" {
		t.Errorf("usage on no data: %q, %v", out, err)
	}
	for _, tt := range []struct {
		name string
		f    func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error
		args []string
		want string
	}{
		{"from after to", report, []string{"usage", "-from", "2026-02-01", "-to", "2026-01-01"}, "is not before"},
		{"unknown report", report, []string{"bills"}, "unknown report"},
		{"bad format", report, []string{"usage", "-format", "xml"}, "unknown format"},
		{"unknown action", migrate, []string{"down"}, "unknown action"},
		{"dead database", migrate, []string{"up", "-dsn", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, "connect to database x"},
	} {
		if _, err := run(tt.f, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", tt.name, err, tt.want)
		}
	}
}

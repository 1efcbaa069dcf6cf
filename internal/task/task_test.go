package task

import (
	"context"
	"errors"
	"testing"

	"github.com/bras-project/bras/internal/leakcheck"
)

// TestFirstErrorStopsTheOthers: a failing task stops the others, every
// task is joined, and the error names the failed task.
func TestFirstErrorStopsTheOthers(t *testing.T) {
	leakcheck.Check(t)
	g := New(context.Background())
	boom := errors.New("address already in use")
	started := make(chan struct{})
	g.Go("api", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.Go("coa", func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })
	g.Go("metrics", func(ctx context.Context) error { <-started; return boom })
	err := g.Wait()
	if !errors.Is(err, boom) || err.Error() != "metrics: address already in use" {
		t.Fatalf("Wait: %v; want metrics: %v", err, boom)
	}
}

// TestEndStopsTheOthers: a task that ends without an error stops the
// others too, and none of them reports the cancellation as an error.
func TestEndStopsTheOthers(t *testing.T) {
	leakcheck.Check(t)
	g := New(context.Background())
	g.Go("server", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.Go("reader", func(context.Context) error { return nil })
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait: %v; want nil", err)
	}
}

// TestParentDone: the tasks stop when the parent context is done; that is
// not an error.
func TestParentDone(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx)
	g.Go("server", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait: %v; want nil", err)
	}
}

package task

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Group is the running parts of a daemon, as corerad's Serve runs them:
// the first part to end stops the others, and Wait returns once every one
// has ended, with the first error, which names its part.
type Group struct {
	g      *errgroup.Group
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Group whose tasks run until ctx is done or one of them
// ends.
func New(ctx context.Context) *Group {
	ctx, cancel := context.WithCancel(ctx)
	g, ctx := errgroup.WithContext(ctx)
	return &Group{g: g, ctx: ctx, cancel: cancel}
}

// Context is done once the tasks are told to stop.
func (g *Group) Context() context.Context { return g.ctx }

// Stop tells every task to stop.
func (g *Group) Stop() { g.cancel() }

// Go runs fn as the task name. When it ends, the other tasks are told to
// stop: a daemon runs all its parts or none. An error is returned by Wait
// as "name: error", unless it is the cancellation of a stopping group.
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.g.Go(func() error {
		defer g.cancel()
		err := fn(g.ctx)
		if err == nil || (errors.Is(err, context.Canceled) && g.ctx.Err() != nil) {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	})
}

// Wait waits for every task to end and returns the first error.
func (g *Group) Wait() error {
	err := g.g.Wait()
	g.cancel()
	return err
}

package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/bras-project/bras/internal/lab"
)

func init() {
	register("lab", "run the main job end to end in network namespaces (FreeRADIUS, PostgreSQL, LAC, LNS, subscribers)", runLab)
}

func runLab(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bras lab", flag.ContinueOnError)
	var o lab.Options
	fs.IntVar(&o.Subscribers, "n", 100, "subscribers to bring up")
	fs.Float64Var(&o.Rate, "rate", 0, "set-ups per second (0: as fast as the in-flight cap allows)")
	fs.StringVar(&o.Mode, "mode", "proxy", "LAC mode: proxy or transparent")
	fs.StringVar(&o.Engine, "engine", "", "forwarding engine of both daemons: auto, xdp or userspace (default: their configuration's, auto)")
	fs.DurationVar(&o.Hold, "hold", 10*time.Second, "how long the subscribers stay up with traffic")
	fs.Float64Var(&o.TrafficPPS, "traffic-pps", 5, "probe packets per second per subscriber")
	fs.BoolVar(&o.Keep, "keep-logs", false, "keep the daemons' logs")
	ipv4Only := fs.Bool("ipv4-only", false, "subscribers without IPv6 (by default they are dual-stack)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.IPv6 = !*ipv4Only
	res, err := lab.Run(ctx, o)
	if err != nil {
		return err
	}
	if res.Load.Up != o.Subscribers {
		return fmt.Errorf("%d of %d subscribers came up", res.Load.Up, o.Subscribers)
	}
	if v := res.Load.IPv6; v != nil && v.Up != o.Subscribers {
		return fmt.Errorf("%d of %d subscribers got their IPv6 prefixes (%v)", v.Up, o.Subscribers, v.Failures)
	}
	fmt.Println("lab: done: every subscriber came up, exchanged traffic, and was accounted in PostgreSQL")
	return nil
}

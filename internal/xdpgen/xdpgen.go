package xdpgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Numbers the BPF programs share with Go (bpf/xdpgen.c).
const (
	// SinkPort is the marker: the UDP destination port of the benchmark's
	// packets, which the sink counts and drops.
	SinkPort = 9
	// SourcePortBase and SourcePortSpan are the UDP source ports xdp_gen
	// writes, one after the other: base, base+1, ... base+span-1, base, ...
	SourcePortBase = 10000
	SourcePortSpan = 64
	// HeaderOctets is how much of the frame xdp_gen writes per packet
	// from its template: a frame is at least this long.
	HeaderOctets = 72
)

// XDP verdicts (enum xdp_action of <linux/bpf.h>).
const (
	verdictAborted = 0
	verdictDrop    = 1
	verdictPass    = 2
	verdictTX      = 3
)

// xdpMD is struct xdp_md of <linux/bpf.h>, the context of BPF_PROG_TEST_RUN
// for XDP: data and data_end are offsets into the frame.
type xdpMD struct {
	Data, DataEnd, DataMeta uint32
	IngressIfindex          uint32
	RxQueueIndex            uint32
	EgressIfindex           uint32
}

// Generator injects a template frame NIC-like out of a network interface:
// xdp_gen run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES, as the
// kernel's own XDP traffic generator (samples/bpf xdp_trafficgen) does. The
// frames arrive at the interface's peer as xdp_frames, as from a NIC's
// receive ring.
type Generator struct {
	prog      *ebpf.Program
	seq, tmpl *ebpf.Map
	last      []byte // the template in tmpl
	restarts  uint64 // calls the kernel interrupted (a signal) and cilium/ebpf restarted
}

// NewGenerator loads xdp_gen.
func NewGenerator() (*Generator, error) {
	spec, err := loadXdpgen()
	if err != nil {
		return nil, fmt.Errorf("xdpgen: %w", err)
	}
	var objs struct {
		Prog *ebpf.Program `ebpf:"xdp_gen"`
		Seq  *ebpf.Map     `ebpf:"gen_seq"`
		Tmpl *ebpf.Map     `ebpf:"gen_tmpl"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return nil, fmt.Errorf("xdpgen: load xdp_gen: %w", err)
	}
	return &Generator{prog: objs.Prog, seq: objs.Seq, tmpl: objs.Tmpl}, nil
}

// Close unloads the program.
func (g *Generator) Close() error {
	return errors.Join(g.prog.Close(), g.seq.Close(), g.tmpl.Close())
}

// setTemplate gives xdp_gen the first HeaderOctets of frame, which it
// writes over every packet it sends: the kernel reuses the pages of its
// frames with whatever the path wrote into them.
func (g *Generator) setTemplate(frame []byte) error {
	if len(frame) < HeaderOctets {
		return fmt.Errorf("xdpgen: frame of %d octets: the generator sends %d and more", len(frame), HeaderOctets)
	}
	if bytes.Equal(g.last, frame[:HeaderOctets]) {
		return nil
	}
	if err := g.tmpl.Update(uint32(0), frame[:HeaderOctets], ebpf.UpdateAny); err != nil {
		return fmt.Errorf("xdpgen: template: %w", err)
	}
	g.last = append(g.last[:0], frame[:HeaderOctets]...)
	return nil
}

// Run sends frame (HeaderOctets and more) repeat times out of the
// interface ifindex (at least once), each with the next UDP source port. The interface is looked up in
// the network namespace of the calling thread: a caller that works in
// another namespace locks its goroutine to a thread switched into it
// (netlab.Netns.Do). A frame that is not Ethernet + IPv4 or IPv6 + UDP,
// bare or in a PPPoE session, is refused by the program (XDP_ABORTED).
func (g *Generator) Run(frame []byte, ifindex int, repeat uint32) error {
	if repeat == 0 {
		repeat = 1
	}
	if err := g.setTemplate(frame); err != nil {
		return err
	}
	_, err := g.prog.Run(&ebpf.RunOptions{
		Reset:   func() { g.restarts++ },
		Data:    frame,
		Repeat:  repeat,
		Flags:   unix.BPF_F_TEST_XDP_LIVE_FRAMES,
		Context: xdpMD{DataEnd: uint32(len(frame)), IngressIfindex: uint32(ifindex)},
	})
	if err != nil {
		return fmt.Errorf("xdpgen: BPF_PROG_TEST_RUN live frames on ifindex %d: %w", ifindex, err)
	}
	return nil
}

// Offered is what a generator sent.
type Offered struct {
	Packets uint64
	Seconds float64
	// Restarts counts calls a signal interrupted and that were run again
	// in full: they sent more than Packets says.
	Restarts uint64
}

// PPS is the offered packets per second.
func (o Offered) PPS() float64 {
	if o.Seconds == 0 {
		return 0
	}
	return float64(o.Packets) / o.Seconds
}

// Each BPF_PROG_TEST_RUN call in live-frames mode costs 20-30 ms of
// set-up and tear-down (measured on Linux 6.18) during which nothing is
// sent, so Generate sizes its calls to last about callTarget: gaps of
// about 5 %.
const (
	callTarget  = 500 * time.Millisecond
	firstRepeat = 1 << 16
	maxRepeat   = 1 << 26
)

// Generate runs frame out of ifindex on the calling thread (in its
// namespace, as for Run) until ctx is done, in calls of about half a
// second, and returns what it offered. It returns when the call under
// way when ctx ended has finished. A call the kernel restarted after a
// signal is counted once.
func (g *Generator) Generate(ctx context.Context, frame []byte, ifindex int) (o Offered, err error) {
	start := time.Now()
	repeat := uint32(firstRepeat)
	restarts := g.restarts
	defer func() { o.Restarts = g.restarts - restarts }()
	for ctx.Err() == nil {
		t := time.Now()
		if err = g.Run(frame, ifindex, repeat); err != nil {
			return o, err
		}
		o.Packets += uint64(repeat)
		took := time.Since(t)
		if took > 0 {
			next := float64(repeat) * float64(callTarget) / float64(took)
			repeat = uint32(min(max(next, firstRepeat), maxRepeat))
		}
	}
	o.Seconds = time.Since(start).Seconds()
	return o, nil
}

// Count is what a sink counted: marker frames and their Ethernet octets.
type Count struct {
	Packets, Octets uint64
}

// Sink counts and drops the benchmark's frames arriving on an interface
// (xdp_sink attached in native XDP mode through a bpf_link) and passes
// everything else to the kernel unchanged. Its XDP program also gives a
// veth the NAPI instance it needs to receive redirected frames.
type Sink struct {
	prog   *ebpf.Program
	counts *ebpf.Map
	link   link.Link
}

// AttachSink loads a sink of its own and attaches it to the interface
// ifname of the calling thread's network namespace (see Generator.Run).
func AttachSink(ifname string) (*Sink, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("xdpgen: %w", err)
	}
	s, err := newSink()
	if err != nil {
		return nil, err
	}
	s.link, err = link.AttachXDP(link.XDPOptions{Program: s.prog, Interface: ifc.Index, Flags: link.XDPDriverMode})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("xdpgen: attach the sink to %s: %w", ifname, err)
	}
	return s, nil
}

func newSink() (*Sink, error) {
	spec, err := loadXdpgen()
	if err != nil {
		return nil, fmt.Errorf("xdpgen: %w", err)
	}
	var objs struct {
		Prog   *ebpf.Program `ebpf:"xdp_sink"`
		Counts *ebpf.Map     `ebpf:"sink_counts"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return nil, fmt.Errorf("xdpgen: load xdp_sink: %w", err)
	}
	return &Sink{prog: objs.Prog, counts: objs.Counts}, nil
}

// Count sums the sink's per-CPU counters.
func (s *Sink) Count() (Count, error) {
	var per []xdpgenSinkCount
	if err := s.counts.Lookup(uint32(0), &per); err != nil {
		return Count{}, fmt.Errorf("xdpgen: read the sink's counters: %w", err)
	}
	var c Count
	for _, x := range per {
		c.Packets += x.Packets
		c.Octets += x.Octets
	}
	return c, nil
}

// Close detaches the sink and unloads it.
func (s *Sink) Close() error {
	var err error
	if s.link != nil {
		err = s.link.Close()
	}
	return errors.Join(err, s.prog.Close(), s.counts.Close())
}

package lab

import (
	"sort"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// progRun is what the kernel counted for the XDP programs of one name
// (with kernel.bpf_stats_enabled): runs and nanoseconds in them.
type progRun struct {
	runs, ns uint64
}

// xdpProgStats samples the run statistics of every loaded XDP program,
// summed by program name (xdp_lac, xdp_lns, xdp_gen, xdp_sink): the
// daemons' programs are in other processes, so they are found by ID.
func xdpProgStats() map[string]progRun {
	out := map[string]progRun{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out // os.ErrNotExist: the last one
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := p.Info()
		if err == nil && info.Type == ebpf.XDP {
			if st, err := p.Stats(); err == nil {
				r := out[info.Name]
				r.runs += st.RunCount
				r.ns += uint64(st.Runtime)
				out[info.Name] = r
			}
		}
		p.Close()
	}
}

// StageCost is one XDP program's CPU time per packet in a bras run.
type StageCost struct {
	Program     string  `json:"program"`
	NsPerPacket float64 `json:"ns_per_packet"`
}

// stageCosts is the CPU time per run of each program between two samples,
// for the programs that ran.
func stageCosts(a, b map[string]progRun) []StageCost {
	var out []StageCost
	for name, r1 := range b {
		r0 := a[name]
		if r1.runs <= r0.runs {
			continue
		}
		out = append(out, StageCost{Program: name, NsPerPacket: float64(r1.ns-r0.ns) / float64(r1.runs-r0.runs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Program < out[j].Program })
	return out
}

// enableBPFStats turns the kernel's BPF run-time statistics on until the
// closer is closed; where the kernel refuses, the benchmark goes on
// without them.
func enableBPFStats() (func(), error) {
	c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		return func() {}, err
	}
	return func() { c.Close() }, nil
}

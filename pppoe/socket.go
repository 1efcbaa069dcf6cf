package pppoe

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// hwAddr is the destination address of a raw-socket write.
func hwAddr(m MAC) net.Addr { return &packet.Addr{HardwareAddr: m[:]} }

// rcvBuf is the receive buffer asked for each raw socket.
const rcvBuf = 4 << 20

// listen opens a raw AF_PACKET socket that reads and writes whole Ethernet
// frames of one ethertype on ifi. With tagged it also gets the frames of
// that ethertype inside 802.1Q tags (user-space VLANs): the socket then
// listens to every protocol (a tap, which sees frames before the kernel
// drops the tag of a VLAN it has no sub-interface for) behind a BPF
// filter that keeps only et, and the tag comes in PACKET_AUXDATA.
//
// A filter other than nil replaces that one (and is set on an untagged
// socket too): it must itself keep only frames of et.
func listen(ifi *net.Interface, et EtherType, tagged bool, filter []bpf.RawInstruction) (*packet.Conn, error) {
	proto, cfg := int(et), (*packet.Config)(nil)
	switch {
	case filter != nil:
		cfg = &packet.Config{Filter: filter}
		if tagged {
			proto = unix.ETH_P_ALL
		}
	case tagged:
		filter, err := bpf.Assemble([]bpf.Instruction{
			bpf.LoadAbsolute{Off: 12, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(et), SkipFalse: 1},
			bpf.RetConstant{Val: 0x40000},
			// A tag left inline: 802.1Q then et.
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(EtherTypeVLAN), SkipFalse: 3},
			bpf.LoadAbsolute{Off: 16, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(et), SkipFalse: 1},
			bpf.RetConstant{Val: 0x40000},
			bpf.RetConstant{Val: 0},
		})
		if err != nil {
			return nil, fmt.Errorf("pppoe: BPF filter: %w", err)
		}
		proto, cfg = unix.ETH_P_ALL, &packet.Config{Filter: filter}
	}
	c, err := packet.Listen(ifi, packet.Raw, proto, cfg)
	if err != nil {
		return nil, fmt.Errorf("pppoe: %s: listen %v: %w", ifi.Name, et, err)
	}
	// An AF_PACKET socket also sees the frames its host sends; the AC and
	// the client only want what arrives.
	rc, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
			// Room for bursts (a PADI storm, a batch of session frames);
			// past net.core.rmem_max only with CAP_NET_ADMIN.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			}
		})
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pppoe: %s: ignore outgoing: %w", ifi.Name, err)
	}
	return c, nil
}

// open makes the ports: the untagged interface and/or its VLAN
// sub-interfaces, which the host has made, or one port that reads the
// tags itself (UserVLANs).
func (s *Server) open() error {
	cfg := &s.cfg
	if cfg.Interface == "" {
		return errors.New("pppoe: server: no interface")
	}
	ranges, err := cfg.ranges()
	if err != nil {
		return err
	}
	set, err := newVLANSet(ranges)
	if err != nil {
		return err
	}
	if cfg.UserVLANs {
		return s.openUserVLANs(set, len(ranges) > 0)
	}
	for _, r := range ranges {
		if r.QinQ() {
			return errors.New("pppoe: server: QinQ needs UserVLANs")
		}
		if r.Inner.First != r.Inner.Last {
			return fmt.Errorf("pppoe: server: VLAN range %s needs UserVLANs (or one server per sub-interface the host made)", r)
		}
	}
	type want struct {
		name string
		vid  uint16
	}
	var ws []want
	if cfg.ServeUntagged || len(ranges) == 0 {
		ws = append(ws, want{cfg.Interface, 0})
	}
	for _, r := range ranges {
		vid := r.Inner.First
		ws = append(ws, want{cfg.Interface + "." + strconv.Itoa(int(vid)), vid})
	}
	for _, w := range ws {
		ifi, err := net.InterfaceByName(w.name)
		if err != nil {
			return fmt.Errorf("pppoe: server: %w", err)
		}
		mac, ok := MACFrom(ifi.HardwareAddr)
		if !ok {
			return fmt.Errorf("pppoe: server: %s has no Ethernet address", w.name)
		}
		p := s.newPort(w.name, w.vid, mac, ifi.MTU)
		p.limits = set
		s.ports = append(s.ports, p)
		if p.disc, err = listen(ifi, EtherTypeDiscovery, false, nil); err != nil {
			return err
		}
		if err := s.listenSession(p, ifi, false); err != nil {
			return err
		}
	}
	return nil
}

// ranges is every VLAN of cfg as ranges: VLANs and QinQ as ranges of one,
// then VLANRanges.
func (cfg *ServerConfig) ranges() ([]VLANRange, error) {
	var r []VLANRange
	for _, vid := range cfg.VLANs {
		if vid == 0 || vid > 4094 {
			return nil, fmt.Errorf("pppoe: server: VLAN %d out of range 1-4094", vid)
		}
		r = append(r, VLANRange{Inner: VLANSpan{vid, vid}})
	}
	for _, q := range cfg.QinQ {
		if q.Outer == 0 || q.Outer > 4094 || q.Inner == 0 || q.Inner > 4094 {
			return nil, fmt.Errorf("pppoe: server: QinQ %d/%d out of range 1-4094", q.Outer, q.Inner)
		}
		r = append(r, VLANRange{Outer: VLANSpan{q.Outer, q.Outer}, Inner: VLANSpan{q.Inner, q.Inner}})
	}
	return append(r, cfg.VLANRanges...), nil
}

// openUserVLANs makes one port on the interface that tags and untags the
// VLANs of set itself; tagged tells whether any are served.
func (s *Server) openUserVLANs(set *vlanSet, tagged bool) error {
	cfg := &s.cfg
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return fmt.Errorf("pppoe: server: %w", err)
	}
	mac, ok := MACFrom(ifi.HardwareAddr)
	if !ok {
		return fmt.Errorf("pppoe: server: %s has no Ethernet address", cfg.Interface)
	}
	p := s.newPort(cfg.Interface, 0, mac, ifi.MTU)
	p.untagged = cfg.ServeUntagged || !tagged
	p.vlans, p.limits = set, set
	s.ports = append(s.ports, p)
	if p.disc, err = listen(ifi, EtherTypeDiscovery, true, nil); err != nil {
		return err
	}
	return s.listenSession(p, ifi, true)
}

// listenSession opens the session sockets of p: one for PPP control
// frames and one for the rest (filter.go), or one for all with
// ServerConfig.NoControlSocket.
func (s *Server) listenSession(p *port, ifi *net.Interface, tagged bool) error {
	var err error
	if s.cfg.NoControlSocket {
		p.sess, err = listen(ifi, EtherTypeSession, tagged, nil)
		return err
	}
	data, err := sessionFilter(false)
	if err != nil {
		return err
	}
	ctl, err := sessionFilter(true)
	if err != nil {
		return err
	}
	if p.sess, err = listen(ifi, EtherTypeSession, tagged, data); err != nil {
		return err
	}
	p.ctrl, err = listen(ifi, EtherTypeSession, tagged, ctl)
	return err
}

// closePorts closes the sockets.
func (s *Server) closePorts() {
	for _, p := range s.ports {
		if p.disc != nil {
			_ = p.disc.Close()
		}
		if p.ring != nil {
			p.ring.close() // the readers are done
		}
		if p.sess != nil {
			_ = p.sess.Close()
		}
		if p.ctrl != nil {
			_ = p.ctrl.Close()
		}
	}
}

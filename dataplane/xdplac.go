package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/cilium/ebpf"
)

// LACPath is the LAC's XDP fast path (bpf/lac.c): PPPoE session frames of
// its sessions carrying IPv4 become L2TP data messages to the LNS, and the
// LNS's data messages become PPPoE frames to the subscriber, on the
// attached interfaces. What it does not handle reaches the user-space relay
// unchanged. Methods are safe for concurrent use.
type LACPath struct {
	core
	objs lacObjects
}

// VLAN is one tag of an access port: TPID 0x8100 (802.1Q) or 0x88a8
// (802.1ad), and the VLAN ID.
type VLAN struct {
	TPID uint16
	ID   uint16
}

// LACSession describes one session to the fast path.
type LACSession struct {
	// The PPPoE side (RFC 2516): the access interface, the subscriber's
	// and our MAC, the PPPoE SESSION_ID and the tags on the wire (outer
	// first; none on an untagged port).
	Interface     string
	SubscriberMAC net.HardwareAddr
	LocalMAC      net.HardwareAddr
	PPPoESession  uint16
	VLANs         []VLAN
	// MRU bounds the IP packets sent to the subscriber (its PPPoE
	// payload: 1492 unless RFC 4638 agreed more); longer ones are left to
	// the slow path.
	MRU int
	// The L2TP side: the LAC's IDs (in the LNS's data messages), the
	// LNS's (in ours), and both UDP addresses.
	LocalTunnel, LocalSession uint16
	PeerTunnel, PeerSession   uint16
	Local, LNS                netip.AddrPort
	MSS                       uint16 // TCP MSS clamp (0: none)
	Sequencing                bool
}

// LACHandle is a session in the fast path.
type LACHandle struct {
	slot    uint32
	subKey  lacLacSubKey
	sessKey lacLacSessKey
}

// NewLACPath loads the LAC program and attaches it to cfg.Interfaces.
func NewLACPath(cfg Config) (*LACPath, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &LACPath{}
	spec, err := loadLac()
	if err := p.open(spec, err, cfg, &p.objs, func() {
		o := &p.objs
		p.core.prog, p.counters, p.policers, p.reasons, p.settings = o.XdpLac, o.SessionCounters, o.SessionPolicers, o.ReasonStats, o.Settings
	}, "lac_subs", "lac_sessions"); err != nil {
		return nil, err
	}
	return p, nil
}

// Close detaches the program and frees the maps.
func (p *LACPath) Close() error {
	p.detach()
	return p.objs.Close()
}

// Add puts a session into the fast path, both directions at once.
func (p *LACPath) Add(s LACSession) (*LACHandle, error) {
	if len(s.SubscriberMAC) != 6 || len(s.LocalMAC) != 6 {
		return nil, errors.New("dataplane: LAC session needs both MAC addresses")
	}
	if len(s.VLANs) > 2 {
		return nil, errors.New("dataplane: more than two VLAN tags")
	}
	if !s.LNS.Addr().Unmap().Is4() || !s.Local.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("dataplane: LAC session needs IPv4 tunnel addresses (%v, %v)", s.Local, s.LNS)
	}
	ifc, err := net.InterfaceByName(s.Interface)
	if err != nil {
		return nil, fmt.Errorf("dataplane: access interface: %w", err)
	}
	slot, err := p.slot()
	if err != nil {
		return nil, err
	}
	var flags uint32
	if s.Sequencing {
		flags |= dpFSequencing
	}
	h := &LACHandle{
		slot:    slot,
		subKey:  lacLacSubKey{Ifindex: uint32(ifc.Index), PppoeSid: be16(s.PPPoESession)},
		sessKey: lacLacSessKey{TunnelId: be16(s.LocalTunnel), SessionId: be16(s.LocalSession)},
	}
	copy(h.subKey.Mac[:], s.SubscriberMAC)
	sub := lacLacSub{LacAddr: addr4(s.Local.Addr()), LnsAddr: addr4(s.LNS.Addr()), LacPort: be16(s.Local.Port()),
		LnsPort: be16(s.LNS.Port()), PeerTunnel: be16(s.PeerTunnel), PeerSession: be16(s.PeerSession),
		Mss: s.MSS, Slot: slot, Flags: flags}
	sess := lacLacSess{LnsAddr: addr4(s.LNS.Addr()), Ifindex: uint32(ifc.Index), PppoeSid: be16(s.PPPoESession),
		LnsPort: be16(s.LNS.Port()), Mru: uint16(min(max(s.MRU, 0), 65535)), Mss: s.MSS, Slot: slot, Flags: flags}
	copy(sess.SubMac[:], s.SubscriberMAC)
	copy(sess.AcMac[:], s.LocalMAC)
	for i, v := range s.VLANs {
		h.subKey.Vlan[i] = be16(v.ID & 0x0fff)
		sess.VlanTpid[i] = be16(v.TPID)
		sess.VlanTci[i] = be16(v.ID & 0x0fff)
	}
	if err := p.setRate(slot, Rate{}, Rate{}); err != nil {
		p.release(slot)
		return nil, err
	}
	if err := p.objs.LacSessions.Update(h.sessKey, sess, ebpf.UpdateAny); err != nil {
		p.release(slot)
		if isNoSpace(err) {
			return nil, ErrFull
		}
		return nil, fmt.Errorf("dataplane: add LAC session: %w", err)
	}
	if err := p.objs.LacSubs.Update(h.subKey, sub, ebpf.UpdateAny); err != nil {
		_ = p.objs.LacSessions.Delete(h.sessKey)
		p.release(slot)
		if isNoSpace(err) {
			return nil, ErrFull
		}
		return nil, fmt.Errorf("dataplane: add LAC session: %w", err)
	}
	return h, nil
}

// Counters reads the session's fast-path counters.
func (p *LACPath) Counters(h *LACHandle) (Counters, error) { return p.read(h.slot) }

// Remove takes the session out of the maps and returns its final counters.
func (p *LACPath) Remove(h *LACHandle) (Counters, error) {
	_ = p.objs.LacSubs.Delete(h.subKey)
	_ = p.objs.LacSessions.Delete(h.sessKey)
	c, err := p.read(h.slot)
	p.release(h.slot)
	return c, err
}

// Stats sums the reason counters.
func (p *LACPath) Stats() (Stats, error) { return p.stats() }

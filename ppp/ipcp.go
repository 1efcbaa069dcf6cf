package ppp

import "net/netip"

// ipcpOptions is the IPCP option handler (RFC 1332 section 3, RFC 1877) for
// both roles. The server assigns the peer's address and DNS servers; the
// client asks for them with 0.0.0.0 and takes what the server Naks.
type ipcpOptions struct {
	s *Session

	// Our request.
	local      netip.Addr // our IP-Address, sent when valid
	sendLocal  bool
	dns1, dns2 netip.Addr // client: DNS we ask for
	sendDNS1   bool
	sendDNS2   bool

	// Server: what the peer must use (from the AuthResult).
	assign                 netip.Addr
	assignDNS1, assignDNS2 netip.Addr

	// The peer's acked address.
	peer netip.Addr
}

var zeroAddr = netip.IPv4Unspecified()

func addrOf(d []byte) netip.Addr { return netip.AddrFrom4([4]byte(d)) }

func addrOption(t IPCPOption, a netip.Addr) Option {
	b := a.As4()
	return Option{Type: uint8(t), Data: b[:]}
}

func (p *ipcpOptions) reset() {
	cfg := &p.s.cfg
	p.peer = netip.Addr{}
	if cfg.Role == Server {
		p.local = cfg.LocalIP
		p.sendLocal = cfg.LocalIP.Is4()
		p.sendDNS1, p.sendDNS2 = false, false
		return
	}
	p.local = zeroAddr
	if cfg.LocalIP.Is4() {
		p.local = cfg.LocalIP
	}
	p.sendLocal = true
	p.dns1, p.dns2 = zeroAddr, zeroAddr
	p.sendDNS1, p.sendDNS2 = true, true
}

func (p *ipcpOptions) request() []Option {
	opts := make([]Option, 0, 3)
	if p.sendLocal {
		opts = append(opts, addrOption(IPCPAddress, p.local))
	}
	if p.sendDNS1 {
		opts = append(opts, addrOption(IPCPPrimaryDNS, p.dns1))
	}
	if p.sendDNS2 {
		opts = append(opts, addrOption(IPCPSecondaryDNS, p.dns2))
	}
	return opts
}

func (p *ipcpOptions) check(opts []Option) (Code, []Option) {
	server := p.s.cfg.Role == Server
	var rej, nak []Option
	var peer netip.Addr
	sawAddr := false
	for _, o := range opts {
		t := IPCPOption(o.Type)
		switch {
		case t == IPCPAddress && len(o.Data) == 4: // RFC 1332 section 3.3
			sawAddr = true
			v := addrOf(o.Data)
			switch {
			case server && p.assign.Is4() && v != p.assign:
				nak = append(nak, addrOption(IPCPAddress, p.assign))
			case v.IsUnspecified():
				// We have no address to give (client, or server without one).
				rej = append(rej, o)
			default:
				peer = v
			}
		case server && (t == IPCPPrimaryDNS || t == IPCPSecondaryDNS) && len(o.Data) == 4: // RFC 1877
			want := p.assignDNS1
			if t == IPCPSecondaryDNS {
				want = p.assignDNS2
			}
			switch v := addrOf(o.Data); {
			case !want.Is4():
				rej = append(rej, o)
			case v != want:
				nak = append(nak, addrOption(t, want))
			}
		default:
			rej = append(rej, o)
		}
	}
	if len(rej) > 0 {
		return ConfRej, rej
	}
	if server && !sawAddr && p.assign.Is4() {
		// RFC 1332 section 3.3: Nak with the option to give the peer an
		// address it did not ask for.
		nak = append(nak, addrOption(IPCPAddress, p.assign))
	}
	if len(nak) > 0 {
		return ConfNak, nak
	}
	p.peer = peer
	return ConfAck, nil
}

func (p *ipcpOptions) acked(opts []Option) {}

// essential: a server with an address to assign never opens IPCP without
// it (RFC 1332 section 3.3: the peer gets the address we Nak with).
func (p *ipcpOptions) essential(nak []Option) bool {
	if p.s.cfg.Role != Server || !p.assign.Is4() {
		return false
	}
	for _, o := range nak {
		if IPCPOption(o.Type) == IPCPAddress {
			return true
		}
	}
	return false
}

func (p *ipcpOptions) naked(opts []Option) bool {
	for _, o := range opts {
		if len(o.Data) != 4 {
			continue
		}
		v := addrOf(o.Data)
		switch IPCPOption(o.Type) {
		case IPCPAddress:
			p.local, p.sendLocal = v, true
		case IPCPPrimaryDNS:
			if p.sendDNS1 {
				p.dns1 = v
			}
		case IPCPSecondaryDNS:
			if p.sendDNS2 {
				p.dns2 = v
			}
		}
	}
	return true
}

func (p *ipcpOptions) rejected(opts []Option) bool {
	for _, o := range opts {
		switch IPCPOption(o.Type) {
		case IPCPAddress:
			if p.s.cfg.Role == Client && p.local.IsUnspecified() {
				// A client that cannot get an address has nothing to run.
				return false
			}
			p.sendLocal = false
		case IPCPPrimaryDNS:
			p.sendDNS1, p.dns1 = false, netip.Addr{}
		case IPCPSecondaryDNS:
			p.sendDNS2, p.dns2 = false, netip.Addr{}
		}
	}
	return true
}

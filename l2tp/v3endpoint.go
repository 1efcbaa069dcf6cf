package l2tp

import (
	"encoding/binary"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
)

// This file holds the endpoint's demultiplexing of L2TPv3 over UDP (RFC
// 3931 section 4.1.2), next to L2TPv2 on the same socket: the Ver field
// of the header tells them apart (section 4.7.2), the T bit control from
// data. Control messages go to the connection their 32-bit Control
// Connection ID names, or, for ID 0, to the SCCRQ path; data messages to
// the session their Session ID names (dataV3, v3call.go).

// inputV3 handles one v3 datagram; b aliases the read buffer.
func (e *Endpoint) inputV3(b []byte, from netip.AddrPort, sink *dataSink) {
	if _, control, _ := HeaderVersion(b); !control {
		e.dataV3(b, sink)
		return
	}
	e.controlV3(b, from)
}

// inputIP handles one packet of IP protocol 115 (RFC 3931 section 4.1.1);
// b is the IP payload. A Session ID of zero marks a control message, which
// is handled in its UDP form, the header that follows (section 4.1.1.2);
// anything else is a data message. Only L2TPv3 runs over IP: a control
// header of another version is dropped and counted.
func (e *Endpoint) inputIP(b []byte, from netip.AddrPort, sink *dataSink) {
	control, err := V3IPControl(b)
	if err != nil {
		e.stats.Malformed.Add(1)
		return
	}
	if !control {
		e.dataV3(b, sink)
		return
	}
	c := b[v3IPSessionIDLen:]
	v, ctl, err := HeaderVersion(c)
	switch {
	case err != nil || !ctl:
		e.stats.Malformed.Add(1)
	case v != Version3:
		e.stats.WrongVersion.Add(1)
		e.debugLimited("l2tp: dropping a control message over IP that is not L2TPv3", "version", v, "peer", from.Addr())
	default:
		e.controlV3(c, from)
	}
}

// controlV3 handles one v3 control message in its UDP form; b aliases the
// read buffer.
func (e *Endpoint) controlV3(b []byte, from netip.AddrPort) {
	h, payload, err := ParseV3ControlHeader(b)
	if err != nil {
		e.stats.Malformed.Add(1)
		return
	}
	e.stats.ControlRx.Add(1)
	if h.ConnID == 0 {
		e.newConnInput(b, payload, from)
		return
	}
	e.mu.RLock()
	t := e.tunnels[h.ConnID]
	e.mu.RUnlock()
	if t == nil {
		e.stats.UnknownTunnel.Add(1)
		return
	}
	if !t.v3 {
		e.stats.WrongVersion.Add(1)
		e.debugLimited("l2tp: dropping an L2TPv3 message for an L2TPv2 tunnel", "tunnel_id", t.localID, "peer", from)
		return
	}
	t.post(inPacket{b: append([]byte(nil), b...), from: from})
}

// newConnInput handles a v3 control message for Control Connection ID 0:
// an SCCRQ (section 3.2.1), or a StopCCN sent before the peer knew our ID.
// It is the v3 newTunnelInput; besides, an SCCRQ that carries the nonce of
// control message authentication must bear a good digest under the secret
// Accept gives before a tunnel is made for it (section 5.4.1).
func (e *Endpoint) newConnInput(b, payload []byte, from netip.AddrPort) {
	zero, ok := e.zeroInput(b, payload, from, true)
	if !ok {
		return
	}
	m := zero.m
	peerID, ok := assignedID(&m, true)
	if !ok || peerID == 0 {
		e.stats.Malformed.Add(1)
		return
	}
	key := peerKey{addr: from, id: peerID, v3: true}
	opts, host, refuse, err, ok := e.decideSCCRQ(b, from, key, &zero, 3)
	if !ok {
		return
	}
	if refuse == nil {
		if cerr := opts.check(); cerr != nil {
			e.log.Error("l2tp: Accept returned unusable tunnel options", "peer", from, "err", cerr)
			refuse, err = &ResultCode{Result: uint16(StopCCNGeneralError), HasError: true, Message: "configuration error"}, cerr
		}
	}
	if auth, _, _ := v3Auth(opts); refuse == nil && auth {
		if _, hasNonce := m.Find(AVPNonce); hasNonce {
			if derr := VerifyMessage(b, nil, nil, NewAuthKey(opts.Secret)); derr != nil {
				e.stats.DigestFailures.Add(1)
				e.stats.AuthFailures.Add(1)
				e.logPeer(slog.LevelWarn, from.Addr(), "l2tp: dropping an SCCRQ: message digest check failed", "host", host, "err", derr)
				return
			}
		}
	}
	e.acceptTunnel(b, from, key, opts, refuse, host, err)
}

// ListenIP opens the raw socket of L2TPv3 over IP (RFC 3931 section
// 4.1.1, IP protocol 115) on addr, IPv4 or IPv6 by the address; the
// unspecified address takes every local one. It needs CAP_NET_RAW.
func ListenIP(addr netip.Addr) (*net.IPConn, error) {
	network := "ip4:115"
	if addr.Is6() && !addr.Is4In6() {
		network = "ip6:115"
	}
	return net.ListenIP(network, &net.IPAddr{IP: addr.Unmap().AsSlice(), Zone: addr.Zone()})
}

// routerID is the Router ID of the endpoint's v3 tunnels (RFC 3931
// section 5.4.3): configured, else the socket's IPv4 address, else a hash
// of the host name; never 0.
func routerID(cfg Config, local netip.Addr) uint32 {
	if cfg.RouterID != 0 {
		return cfg.RouterID
	}
	if local.Is4() && !local.IsUnspecified() {
		return binary.BigEndian.Uint32(local.AsSlice())
	}
	h := fnv.New32a()
	h.Write([]byte(cfg.HostName))
	return max(h.Sum32(), 1)
}

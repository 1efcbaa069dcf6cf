package ppp

import (
	"crypto/md5"
	"errors"
	"fmt"
	"time"
)

// ErrProxy is wrapped by StartProxied when the proxied LCP or authentication
// values cannot be used; the LNS then renegotiates LCP with Open instead
// (RFC 2661 section 4.4.5).
var ErrProxy = errors.New("ppp: unusable proxy LCP")

// Proxy carries what a LAC negotiated with the subscriber: the proxy LCP and
// proxy authentication AVPs of RFC 2661 section 4.4.5 (types 26 to 33).
// Option fields hold raw LCP Configure-Request option bytes.
type Proxy struct {
	InitialRecvConfReq []byte // AVP 26: the first Configure-Request from the subscriber
	LastSentConfReq    []byte // AVP 27: the LAC's last Configure-Request to the subscriber
	LastRecvConfReq    []byte // AVP 28: the subscriber's last Configure-Request
	AuthProto          AuthProto
	AuthName           string // AVP 30
	AuthChallenge      []byte // AVP 31
	AuthID             uint8  // AVP 32
	AuthResponse       []byte // AVP 33: the PAP password or the CHAP response
}

// ProxyAuthenType is the value of the Proxy Authen Type AVP (RFC 2661
// section 4.4.5) for a: 2 PPP CHAP, 3 PPP PAP, 4 No Authentication.
func (a AuthProto) ProxyAuthenType() uint16 {
	switch a {
	case AuthCHAPMD5:
		return 2
	case AuthPAP:
		return 3
	}
	return 4
}

// AuthFromProxyAuthenType maps a Proxy Authen Type AVP value (RFC 2661
// section 4.4.5) to the protocol to check it with. Type 1, the textual
// username/password exchange, is checked like PAP. ok is false for types
// this engine cannot verify (0 reserved, 5 MS-CHAPv1, unknown).
func AuthFromProxyAuthenType(v uint16) (a AuthProto, ok bool) {
	switch v {
	case 1, 3:
		return AuthPAP, true
	case 2:
		return AuthCHAPMD5, true
	case 4:
		return AuthNone, true
	}
	return AuthNone, false
}

// ProxyInfo returns what this session negotiated, for a LAC that hands the
// subscriber over to an LNS: the raw LCP Configure-Requests and the captured
// credentials (a Server session whose Authenticator only records the request).
func (s *Session) ProxyInfo() Proxy {
	r := s.raw
	if r == nil {
		r = &rawLCP{} // NoProxyLCP: none kept
	}
	p := Proxy{
		InitialRecvConfReq: append([]byte(nil), r.initialRecvConfReq...),
		LastSentConfReq:    append([]byte(nil), r.lastSentConfReq...),
		LastRecvConfReq:    append([]byte(nil), r.lastRecvConfReq...),
		AuthProto:          s.authReq.Proto,
		AuthName:           s.authReq.Username,
		AuthID:             s.authID,
	}
	switch s.authReq.Proto {
	case AuthPAP:
		p.AuthResponse = append([]byte(nil), s.authReq.Password...)
	case AuthCHAPMD5:
		p.AuthChallenge = append([]byte(nil), s.authReq.Challenge...)
		p.AuthResponse = append([]byte(nil), s.authReq.Response...)
	}
	return p
}

// StartProxied starts a Server session from the LCP state a LAC negotiated
// (proxy LCP, RFC 2661 section 4.4.5): LCP is taken as Opened with the
// proxied options, the proxied credentials go to the Authenticator (or, with
// AuthNone, the negotiated protocol is run with the subscriber), then IPCP
// follows. When the values are unusable it returns an error wrapping ErrProxy
// and changes nothing: the caller then runs Open to renegotiate.
func (s *Session) StartProxied(p Proxy, now time.Time) error {
	if s.cfg.Role != Server || s.phase != PhaseDead || s.down {
		return fmt.Errorf("ppp: StartProxied on a %v session in phase %v: %w", s.cfg.Role, s.phase, ErrProxy)
	}
	sent, err := ParseOptions(p.LastSentConfReq)
	if err != nil {
		return fmt.Errorf("%w: last sent Configure-Request: %w", ErrProxy, err)
	}
	recv, err := ParseOptions(p.LastRecvConfReq)
	if err != nil {
		return fmt.Errorf("%w: last received Configure-Request: %w", ErrProxy, err)
	}
	var l lcpOptions
	l.s = s
	l.mru, l.peerMRU = 1500, 1500
	for _, o := range sent {
		switch LCPOption(o.Type) {
		case LCPMRU:
			if len(o.Data) != 2 || u16(o.Data) < minMRU {
				return fmt.Errorf("%w: our MRU option %x", ErrProxy, o.Data)
			}
			l.mru, l.sendMRU = u16(o.Data), true
		case LCPMagicNumber:
			if len(o.Data) != 4 || u32(o.Data) == 0 {
				return fmt.Errorf("%w: our Magic-Number option %x", ErrProxy, o.Data)
			}
			l.magic, l.sendMagic = u32(o.Data), true
		case LCPAuthProtocol:
			a := authFromOption(o.Data)
			if a == AuthNone {
				return fmt.Errorf("%w: authentication protocol %x", ErrProxy, o.Data)
			}
			l.ourAuth, l.sendAuth = a, true
		}
	}
	for _, o := range recv {
		switch LCPOption(o.Type) {
		case LCPMRU:
			if len(o.Data) != 2 || u16(o.Data) < minMRU {
				return fmt.Errorf("%w: peer MRU option %x", ErrProxy, o.Data)
			}
			l.peerMRU = u16(o.Data)
		case LCPMagicNumber:
			if len(o.Data) != 4 || u32(o.Data) == 0 || (l.sendMagic && u32(o.Data) == l.magic) {
				return fmt.Errorf("%w: peer Magic-Number option %x", ErrProxy, o.Data)
			}
			l.peerMagic = u32(o.Data)
		case LCPPFC:
			l.peerPFC = true
		case LCPACFC:
			l.peerACFC = true
		}
	}
	if len(s.cfg.Auth) > 0 && s.cfg.Auth[0] != AuthNone && l.ourAuth == AuthNone {
		return fmt.Errorf("%w: the LAC negotiated no authentication", ErrProxy)
	}
	switch p.AuthProto {
	case AuthPAP:
	case AuthCHAPMD5:
		if len(p.AuthResponse) != md5.Size || len(p.AuthChallenge) == 0 {
			return fmt.Errorf("%w: CHAP response of %d octets", ErrProxy, len(p.AuthResponse))
		}
	case AuthNone:
	default:
		return fmt.Errorf("%w: proxy authentication %v", ErrProxy, p.AuthProto)
	}

	s.now = now
	s.lcpOpts = l
	s.lcp.fsm.State = Opened
	s.lcp.nextID = 0x80 // away from the IDs the LAC used
	if r := s.raw; r != nil {
		r.initialRecvConfReq = append([]byte(nil), p.InitialRecvConfReq...)
		r.lastSentConfReq = append([]byte(nil), p.LastSentConfReq...)
		r.lastRecvConfReq = append([]byte(nil), p.LastRecvConfReq...)
	}
	if s.cfg.Echo.Interval > 0 {
		s.echoDeadline = now.Add(s.cfg.Echo.Interval)
	}
	s.phase = PhaseAuthenticate
	if p.AuthProto == AuthNone {
		s.startAuth()
		s.settle()
		return nil
	}
	s.authProto = p.AuthProto
	s.authID, s.chapIDSet = p.AuthID, true // a later Challenge of ours follows the LAC's
	s.authReq = AuthRequest{Proto: p.AuthProto, Username: p.AuthName}
	if p.AuthProto == AuthPAP {
		s.authReq.Password = append([]byte(nil), p.AuthResponse...)
	} else {
		s.challenge = append([]byte(nil), p.AuthChallenge...)
		s.authReq.ChapID = p.AuthID
		s.authReq.Challenge = append([]byte(nil), p.AuthChallenge...)
		s.authReq.Response = append([]byte(nil), p.AuthResponse...)
	}
	s.askAuthenticator()
	s.settle()
	return nil
}

package ppp

import "fmt"

// AuthProto is an authentication protocol a Session can run (RFC 1661
// section 6.2 Authentication-Protocol values).
type AuthProto uint8

// Authentication protocols.
const (
	AuthNone    AuthProto = iota
	AuthPAP               // RFC 1334
	AuthCHAPMD5           // RFC 1994, algorithm 5
)

func (a AuthProto) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthPAP:
		return "PAP"
	case AuthCHAPMD5:
		return "CHAP-MD5"
	}
	return fmt.Sprintf("AuthProto(%d)", uint8(a))
}

// option returns the Authentication-Protocol option for a, RFC 1661 section
// 6.2 and RFC 1994 section 3.
func (a AuthProto) option() Option {
	if a == AuthCHAPMD5 {
		return Option{Type: uint8(LCPAuthProtocol), Data: []byte{0xc2, 0x23, CHAPMD5}}
	}
	return Option{Type: uint8(LCPAuthProtocol), Data: []byte{0xc0, 0x23}}
}

// authFromOption decodes an Authentication-Protocol option value; AuthNone
// means a protocol this engine does not run.
func authFromOption(d []byte) AuthProto {
	switch {
	case len(d) == 2 && Protocol(u16(d)) == ProtoPAP:
		return AuthPAP
	case len(d) == 3 && Protocol(u16(d)) == ProtoCHAP && d[2] == CHAPMD5:
		return AuthCHAPMD5
	}
	return AuthNone
}

// minMRU is the smallest MRU accepted from a peer; the RFC 1661 default is
// 1500 and IPv4 needs at least 68 octets (RFC 791).
const minMRU = 68

// lcpOptions is the LCP option handler (RFC 1661 section 6) for both roles.
type lcpOptions struct {
	s *Session

	// Our side: what we request.
	mru       uint16 // our MRU; sent when not 1500
	sendMRU   bool
	magic     uint32 // our Magic-Number, 0 when rejected by the peer
	sendMagic bool
	authIdx   int // server: index into cfg.Auth of the protocol we ask for
	sendAuth  bool

	// The peer's side: what we acked.
	peerMRU   uint16
	peerMagic uint32
	peerAuth  AuthProto // client: the protocol the peer asked us to run
	peerPFC   bool
	peerACFC  bool
	ourAuth   AuthProto // server: the protocol the peer acked
	loops     int
}

func (l *lcpOptions) reset() {
	cfg := &l.s.cfg
	l.mru = cfg.MRU
	l.sendMRU = cfg.MRU != 1500
	l.magic = l.s.newMagic()
	l.sendMagic = true
	l.authIdx = 0
	l.sendAuth = cfg.Role == Server && len(cfg.Auth) > 0 && cfg.Auth[0] != AuthNone
	l.peerMRU = 1500
	l.peerAuth, l.ourAuth = AuthNone, AuthNone
}

func (l *lcpOptions) request() []Option {
	opts := make([]Option, 0, 3)
	if l.sendMRU {
		opts = append(opts, Option{Type: uint8(LCPMRU), Data: appendU16(nil, l.mru)})
	}
	if l.sendAuth {
		opts = append(opts, l.s.cfg.Auth[l.authIdx].option())
	}
	if l.sendMagic {
		opts = append(opts, Option{Type: uint8(LCPMagicNumber), Data: appendU32(nil, l.magic)})
	}
	return opts
}

// check judges the peer's Configure-Request option by option (RFC 1661
// section 6). Unknown options and known ones of the wrong length are
// Rejected; acceptable types with unacceptable values are Nak'd.
func (l *lcpOptions) check(opts []Option) (Code, []Option) {
	cfg := &l.s.cfg
	var rej, nak []Option
	mru, magic, auth := uint16(1500), uint32(0), AuthNone
	pfc, acfc := false, false
	for _, o := range opts {
		switch LCPOption(o.Type) {
		case LCPMRU: // RFC 1661 section 6.1
			if len(o.Data) != 2 {
				rej = append(rej, o)
				continue
			}
			// Below what IPv4 needs, or above what our link carries (over
			// PPPoE at most 1492, RFC 2516 section 7): Nak with ours.
			v := u16(o.Data)
			if v < minMRU || v > cfg.MRU {
				nak = append(nak, Option{Type: o.Type, Data: appendU16(nil, cfg.MRU)})
				continue
			}
			mru = v
		case LCPAuthProtocol: // RFC 1661 section 6.2
			if cfg.Role == Server || len(o.Data) < 2 {
				// We never authenticate ourselves to the subscriber.
				rej = append(rej, o)
				continue
			}
			a := authFromOption(o.Data)
			if a != AuthNone && l.s.clientAccepts(a) {
				auth = a
				continue
			}
			if pref := l.s.clientPreferred(); pref != AuthNone {
				nak = append(nak, pref.option())
			} else {
				rej = append(rej, o)
			}
		case LCPMagicNumber: // RFC 1661 section 6.4
			if len(o.Data) != 4 {
				rej = append(rej, o)
				continue
			}
			v := u32(o.Data)
			if v == 0 {
				nak = append(nak, Option{Type: o.Type, Data: appendU32(nil, l.s.newMagic())})
				continue
			}
			if l.sendMagic && v == l.magic {
				// Possibly a looped-back link: Nak with a different
				// number and count (section 6.4).
				l.s.loopSuspected()
				nak = append(nak, Option{Type: o.Type, Data: appendU32(nil, l.s.newMagic())})
				continue
			}
			magic = v
		case LCPACCM: // RFC 1662 section 7.1; meaningless over PPPoE (RFC 2516 section 7)
			if cfg.RejectACCMPFCACFC || len(o.Data) != 4 {
				rej = append(rej, o)
			}
		case LCPPFC, LCPACFC: // RFC 1661 sections 6.5, 6.6; refused over PPPoE (RFC 2516 section 7)
			if cfg.RejectACCMPFCACFC || len(o.Data) != 0 {
				rej = append(rej, o)
				continue
			}
			if LCPOption(o.Type) == LCPPFC {
				pfc = true
			} else {
				acfc = true
			}
		default:
			rej = append(rej, o)
		}
	}
	if len(rej) > 0 {
		return ConfRej, rej
	}
	if len(nak) > 0 {
		return ConfNak, nak
	}
	l.peerMRU, l.peerMagic, l.peerAuth, l.peerPFC, l.peerACFC = mru, magic, auth, pfc, acfc
	return ConfAck, nil
}

func (l *lcpOptions) acked(opts []Option) {
	for _, o := range opts {
		if LCPOption(o.Type) == LCPAuthProtocol {
			l.ourAuth = authFromOption(o.Data)
		}
	}
	if !l.sendAuth {
		l.ourAuth = AuthNone
	}
}

func (l *lcpOptions) naked(opts []Option) bool {
	cfg := &l.s.cfg
	for _, o := range opts {
		switch LCPOption(o.Type) {
		case LCPMRU:
			if len(o.Data) == 2 {
				if v := u16(o.Data); v >= minMRU && v <= cfg.MRU {
					l.mru, l.sendMRU = v, v != 1500
				}
			}
		case LCPMagicNumber:
			// RFC 1661 section 6.4: choose a different Magic-Number.
			l.magic = l.s.newMagic()
		case LCPAuthProtocol:
			if !l.sendAuth || l.loops > 0 {
				// On a suspected loop our own request comes back:
				// keep asking until loopback detection decides.
				continue
			}
			// The peer suggests another protocol: take it if configured,
			// otherwise try the next one we have.
			want := authFromOption(o.Data)
			next := -1
			for i, a := range cfg.Auth {
				if a == want && a != AuthNone {
					next = i
					break
				}
			}
			if next < 0 {
				next = l.authIdx + 1
			}
			if next >= len(cfg.Auth) || next == l.authIdx {
				l.s.setReason(ReasonAuthFailed)
				return false
			}
			l.authIdx = next
		}
	}
	return true
}

// essential: every LCP option has a default to fall back on (RFC 1661
// section 6), so a Nak'd one may be refused instead.
func (l *lcpOptions) essential(nak []Option) bool { return false }

func (l *lcpOptions) rejected(opts []Option) bool {
	for _, o := range opts {
		switch LCPOption(o.Type) {
		case LCPMRU:
			l.sendMRU, l.mru = false, 1500
		case LCPMagicNumber:
			l.sendMagic, l.magic = false, 0
		case LCPAuthProtocol:
			if l.loops > 0 {
				continue // our own Reject, looped back
			}
			// A subscriber that will not authenticate cannot be served.
			l.s.setReason(ReasonAuthFailed)
			return false
		}
	}
	return true
}

package ppp

import (
	"crypto/md5"
	"crypto/subtle"
	"io"
	"time"
)

// challengeLen is the CHAP challenge size; RFC 1994 section 2.3 asks for
// unpredictable values, and 16 octets matches the MD5 block of the response.
const challengeLen = 16

// startAuth enters the Authenticate phase (RFC 1661 section 3.4) with the
// protocol LCP negotiated, or goes straight to Network without one.
func (s *Session) startAuth() {
	s.auth = authIdle
	s.authTries = 0
	if s.cfg.Role == Server {
		s.authProto = s.lcpOpts.ourAuth
	} else {
		s.authProto = s.lcpOpts.peerAuth
	}
	switch {
	case s.authProto == AuthNone:
		s.startNetwork()
	case s.cfg.Role == Server && s.authProto == AuthPAP:
		// RFC 1334 section 2.1: the peer sends Authenticate-Requests; we
		// wait a full Max-Configure cycle for one.
		s.auth = authWaiting
		s.authDeadline = s.now.Add(s.cfg.Restart * time.Duration(s.cfg.MaxConfigure))
	case s.cfg.Role == Server:
		s.auth = authWaiting
		s.sendChallenge()
	case s.authProto == AuthPAP:
		s.auth = authWaiting
		s.authID++
		b, _ := PAPPacket{Code: PAPRequest, ID: s.authID, PeerID: []byte(s.cfg.Username), Password: []byte(s.cfg.Password)}.Append(nil)
		s.lastResp = b
		s.resendAuth()
	default:
		// CHAP client: wait for the Challenge.
		s.auth = authWaiting
		s.lastResp = nil
		s.authDeadline = s.now.Add(s.cfg.Restart * time.Duration(s.cfg.MaxConfigure))
	}
}

// sendChallenge sends a new Challenge. RFC 1994 section 4.1 changes both
// the Identifier and the Value each time a Challenge is sent, a
// retransmission included; a Response to an earlier one is then stale.
func (s *Session) sendChallenge() {
	s.authTries++
	s.challenge = make([]byte, challengeLen)
	if _, err := io.ReadFull(s.cfg.Rand, s.challenge); err != nil {
		s.log.Error("ppp: chap challenge", "err", err)
	}
	if s.chapIDSet {
		s.authID++
	} else {
		// An unpredictable first Identifier, then one more for each
		// Challenge of the session (RFC 1994 section 2.1).
		var id [1]byte
		io.ReadFull(s.cfg.Rand, id[:])
		s.authID, s.chapIDSet = id[0], true
	}
	s.sendAuthPacket(ProtoCHAP, CHAPPacket{Code: CHAPChallenge, ID: s.authID, Value: s.challenge, Name: []byte(s.cfg.Name)})
	s.authDeadline = s.now.Add(s.cfg.Restart)
}

// resendAuth sends the client's last PAP request or CHAP response again.
func (s *Session) resendAuth() {
	s.authTries++
	proto := ProtoPAP
	if s.authProto == AuthCHAPMD5 {
		proto = ProtoCHAP
	}
	s.sendRaw(proto, s.lastResp)
	s.authDeadline = s.now.Add(s.cfg.Restart)
}

func (s *Session) authTimeout() {
	if s.phase != PhaseAuthenticate || s.auth != authWaiting {
		return
	}
	switch {
	case s.cfg.Role == Server && s.authProto == AuthCHAPMD5 && s.authTries < s.cfg.MaxConfigure:
		s.sendChallenge()
	case s.cfg.Role == Client && s.lastResp != nil && s.authTries < s.cfg.MaxConfigure:
		s.resendAuth()
	default:
		s.log.Info("ppp: authentication timed out", "proto", s.authProto)
		s.authFailed()
	}
}

func (s *Session) authFailed() {
	s.setReason(ReasonAuthFailed)
	s.closeLCP()
}

func (s *Session) papInput(b []byte) {
	p, err := ParsePAP(b)
	if err != nil {
		s.stats.BadAuth++
		return
	}
	if s.authProto != AuthPAP || (s.phase != PhaseAuthenticate && s.phase != PhaseNetwork) {
		s.stats.Discarded++
		return
	}
	if s.cfg.Role == Server {
		if p.Code != PAPRequest {
			s.stats.BadAuth++
			return
		}
		switch s.auth {
		case authDone:
			// A retransmission after our verdict was lost (RFC 1334 2.2.1),
			// or, after the peer restarted authentication on a link that
			// lost packets, the same accepted credentials under a new ID.
			switch {
			case p.ID == s.authID:
				s.sendVerdict()
			case s.authOK && string(p.PeerID) == s.authReq.Username && subtle.ConstantTimeCompare(p.Password, s.authReq.Password) == 1:
				s.authID = p.ID
				s.sendVerdict()
			default:
				s.stats.Stale++
			}
		case authWaiting:
			s.authID = p.ID
			s.authReq = AuthRequest{Proto: AuthPAP, Username: string(p.PeerID), Password: append([]byte{}, p.Password...)}
			s.askAuthenticator()
		}
		return
	}
	if s.phase != PhaseAuthenticate || s.auth != authWaiting || p.ID != s.authID {
		s.stats.Stale++
		return
	}
	switch p.Code {
	case PAPAck:
		s.auth = authDone
		s.startNetwork()
	case PAPNak:
		s.log.Info("ppp: pap rejected", "user", s.cfg.Username, "message", string(p.Message))
		s.authFailed()
	default:
		s.stats.BadAuth++
	}
}

func (s *Session) chapInput(b []byte) {
	p, err := ParseCHAP(b)
	if err != nil {
		s.stats.BadAuth++
		return
	}
	if s.authProto != AuthCHAPMD5 || (s.phase != PhaseAuthenticate && s.phase != PhaseNetwork) {
		s.stats.Discarded++
		return
	}
	if s.cfg.Role == Server {
		if p.Code != CHAPResponse || p.ID != s.authID {
			s.stats.Stale++
			return
		}
		if len(p.Value) != md5.Size {
			// RFC 1994 section 4.1: an MD5 Response is 16 octets.
			s.stats.BadAuth++
			return
		}
		switch s.auth {
		case authDone:
			// RFC 1994 section 4.2: the same reply for a repeated Response.
			s.sendVerdict()
		case authWaiting:
			s.authReq = AuthRequest{Proto: AuthCHAPMD5, Username: string(p.Name), ChapID: p.ID,
				Challenge: append([]byte{}, s.challenge...), Response: append([]byte{}, p.Value...)}
			s.askAuthenticator()
		}
		return
	}
	switch p.Code {
	case CHAPChallenge:
		// RFC 1994 section 4.1: Response = MD5(Identifier ‖ secret ‖ Challenge).
		s.authID = p.ID
		resp := ChapMD5(p.ID, []byte(s.cfg.Password), p.Value)
		b, _ := CHAPPacket{Code: CHAPResponse, ID: p.ID, Value: resp[:], Name: []byte(s.cfg.Username)}.Append(nil)
		s.lastResp = b
		s.authTries = 0
		s.resendAuth()
		if s.phase == PhaseNetwork {
			s.authDeadline = time.Time{} // a re-challenge: no retransmission
		}
	case CHAPSuccess:
		if s.phase != PhaseAuthenticate || p.ID != s.authID || s.lastResp == nil {
			s.stats.Stale++
			return
		}
		s.auth = authDone
		s.startNetwork()
	case CHAPFailure:
		if p.ID != s.authID || s.lastResp == nil {
			s.stats.Stale++
			return
		}
		s.log.Info("ppp: chap rejected", "user", s.cfg.Username, "message", string(p.Message))
		s.authFailed()
	default:
		s.stats.BadAuth++
	}
}

// ChapMD5 computes the CHAP-MD5 Response value, RFC 1994 section 4.1:
// MD5(Identifier ‖ secret ‖ Challenge).
func ChapMD5(id uint8, secret, challenge []byte) [md5.Size]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write(secret)
	h.Write(challenge)
	var out [md5.Size]byte
	h.Sum(out[:0])
	return out
}

func (s *Session) askAuthenticator() {
	s.auth = authPending
	s.authDeadline = time.Time{}
	if s.cfg.Authenticator == nil {
		s.AuthResult(AuthResult{OK: false, Message: "no authenticator"}, s.now)
		return
	}
	s.cfg.Authenticator.Authenticate(s, s.authReq)
}

// AuthResult delivers the Authenticator's verdict for the pending request
// (server role). On success the session answers PAP Ack or CHAP Success and
// starts IPCP with r's addresses; on failure it answers PAP Nak or CHAP
// Failure and terminates LCP. A result with no request pending is ignored.
func (s *Session) AuthResult(r AuthResult, now time.Time) {
	s.now = now
	if s.auth != authPending || s.phase != PhaseAuthenticate {
		return
	}
	s.auth = authDone
	s.authOK = r.OK
	s.authMsg = r.Message
	s.sendVerdict()
	if r.OK {
		s.result = r
		s.log.Debug("ppp: authenticated", "user", s.authReq.Username, "proto", s.authProto.String()) // the owner logs the event
		s.startNetwork()
	} else {
		s.log.Debug("ppp: authentication failed", "user", s.authReq.Username, "proto", s.authProto.String())
		s.authFailed()
	}
	s.settle()
}

func (s *Session) sendVerdict() {
	msg := []byte(s.authMsg)
	if len(msg) > 255 {
		msg = msg[:255]
	}
	if s.authProto == AuthPAP {
		code := PAPNak
		if s.authOK {
			code = PAPAck
		}
		s.sendAuthPacket(ProtoPAP, PAPPacket{Code: code, ID: s.authID, Message: msg})
		return
	}
	code := CHAPFailure
	if s.authOK {
		code = CHAPSuccess
	}
	s.sendAuthPacket(ProtoCHAP, CHAPPacket{Code: code, ID: s.authID, Message: msg})
}

type appender interface {
	Append([]byte) ([]byte, error)
}

func (s *Session) sendAuthPacket(proto Protocol, p appender) {
	b := AppendProtocol(s.out[:0], proto)
	b, err := p.Append(b)
	if err != nil {
		s.log.Error("ppp: encoding", "proto", proto, "err", err)
		return
	}
	s.out = b
	if err := s.link.Send(b); err != nil {
		s.stats.SendErrors++
	}
}

func (s *Session) sendRaw(proto Protocol, pkt []byte) {
	b := AppendProtocol(s.out[:0], proto)
	b = append(b, pkt...)
	s.out = b
	if err := s.link.Send(b); err != nil {
		s.stats.SendErrors++
	}
}

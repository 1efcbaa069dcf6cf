// Package aaatest is an in-process RADIUS server for tests of code that
// talks RADIUS: it answers with whatever a handler builds and can be told
// to misbehave (stay silent, corrupt the authenticator, add or spoil a
// Message-Authenticator).
package aaatest

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"layeh.com/radius"
)

// Handler builds the response to a request; nil means no answer.
type Handler func(req *radius.Packet) *radius.Packet

// Mode says how the server spoils its answers.
type Mode int32

// Modes.
const (
	Normal    Mode = iota // correct answer, no Message-Authenticator
	WithMA                // correct answer with a valid Message-Authenticator
	WrongMA               // answer with a Message-Authenticator of zeros
	WrongAuth             // answer with a spoiled Response Authenticator
	Silent                // read and drop
)

// Server is a RADIUS server on a loopback UDP port.
type Server struct {
	Addr   string
	Secret []byte
	conn   net.PacketConn
	h      Handler
	mode   atomic.Int32
	mu     sync.Mutex
	reqs   []*radius.Packet
	raw    [][]byte
}

// New starts a server on 127.0.0.1 that answers with h and stops at the
// end of the test.
func New(t testing.TB, secret []byte, h Handler) *Server {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: conn.LocalAddr().String(), Secret: secret, conn: conn, h: h}
	done := make(chan struct{})
	go func() { defer close(done); s.serve() }()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// SetMode changes how the following answers are made.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Requests returns the requests received so far, parsed.
func (s *Server) Requests() []*radius.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*radius.Packet(nil), s.reqs...)
}

// Raw returns the requests received so far as they came on the wire.
func (s *Server) Raw() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.raw...)
}

func (s *Server) serve() {
	buf := make([]byte, radius.MaxPacketLength)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		b := append([]byte(nil), buf[:n]...)
		req, err := radius.Parse(b, s.Secret)
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.raw = append(s.raw, b)
		s.mu.Unlock()
		mode := Mode(s.mode.Load())
		if mode == Silent {
			continue
		}
		resp := s.h(req)
		if resp == nil {
			continue
		}
		out, err := Encode(resp, req.Authenticator, mode)
		if err != nil {
			continue
		}
		_, _ = s.conn.WriteTo(out, from)
	}
}

// Encode makes the wire form of a response to a request with the
// Request Authenticator reqAuth, spoiled as mode says.
func Encode(resp *radius.Packet, reqAuth [16]byte, mode Mode) ([]byte, error) {
	resp.Authenticator = reqAuth
	resp.Attributes.Del(80)
	if mode == WithMA || mode == WrongMA {
		resp.Attributes.Add(80, make(radius.Attribute, 16))
	}
	b, err := resp.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if mode == WithMA {
		m := hmac.New(md5.New, resp.Secret)
		m.Write(b)
		m.Sum(b[len(b)-16 : len(b)-16])
	}
	h := md5.New()
	h.Write(b)
	h.Write(resp.Secret)
	h.Sum(b[4:4])
	if mode == WrongAuth {
		b[4] ^= 0xff
	}
	return b, nil
}

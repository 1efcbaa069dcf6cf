package aaatest

import (
	"bytes"
	"crypto/md5"

	"github.com/bras-project/bras/aaa"
	"layeh.com/radius"
)

// User is a subscriber of a Users handler: its password (for PAP and
// CHAP-MD5) and the Access-Accept it gets.
type User struct {
	Password string
	Reply    aaa.AuthReply
}

// Users answers Access-Requests like a RADIUS server with a users file:
// PAP (User-Password) or CHAP-MD5 (CHAP-Password, CHAP-Challenge or the
// Request Authenticator, RFC 2865 section 5.3) checked against users,
// Access-Accept with the user's reply encoded by AuthReply.AppendAttributes,
// else Access-Reject. Accounting-Requests get an Accounting-Response.
func Users(users map[string]User) Handler {
	return func(req *radius.Packet) *radius.Packet {
		if req.Code == radius.CodeAccountingRequest {
			return req.Response(radius.CodeAccountingResponse)
		}
		if req.Code != radius.CodeAccessRequest {
			return nil
		}
		u, ok := users[string(req.Get(1))]
		if !ok || !checkPassword(req, u.Password) {
			return req.Response(radius.CodeAccessReject)
		}
		resp := req.Response(radius.CodeAccessAccept)
		reply := u.Reply
		reply.Accept = true
		attrs, err := reply.AppendAttributes(nil, req.Secret, req.Authenticator)
		if err != nil {
			return req.Response(radius.CodeAccessReject)
		}
		resp.Attributes = attrs
		return resp
	}
}

func checkPassword(req *radius.Packet, password string) bool {
	if pw := req.Get(2); pw != nil {
		got, err := radius.UserPassword(pw, req.Secret, req.Authenticator[:])
		return err == nil && string(got) == password
	}
	cp := req.Get(3)
	if len(cp) != 17 {
		return false
	}
	challenge := req.Get(60)
	if challenge == nil {
		challenge = req.Authenticator[:]
	}
	h := md5.New() // RFC 1994 section 4.1
	h.Write(cp[:1])
	h.Write([]byte(password))
	h.Write(challenge)
	return bytes.Equal(h.Sum(nil), cp[1:])
}

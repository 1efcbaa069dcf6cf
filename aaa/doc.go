// Package aaa is the RADIUS side of bras: the authentication and accounting client with failover, and the CoA/Disconnect-Message server (RFC 2865, 2866, 5176).
//
// Client (NewClient) sends Access-Requests for PAP and CHAP-MD5
// (Authenticate) and Accounting-Requests (Account) to a list of servers
// with retransmission, failover and a dead-server hold-down, under a bound
// on requests in flight. Every request carries a Message-Authenticator
// (RFC 3579 section 3.2); every response is checked for its Response
// Authenticator and, per server, for a Message-Authenticator under an
// MAPolicy (the Blast-RADIUS mitigation). Calls block: run them on a
// bounded worker pool, never on a session shard.
//
// ParseAuthReply turns an Access-Accept into an AuthReply (address, pool,
// DNS, timeouts, Class, routes, rate limit from Filter-Id, and the RFC 2868
// tunnel choices of an LAC, see ParseTunnels).
//
// CoAServer answers Disconnect-Request and CoA-Request on UDP 3799 and
// calls a CoAHandler.
//
// LocalUsers is a users file for labs; SelectAuthenticator refuses to use
// it together with RADIUS.
package aaa

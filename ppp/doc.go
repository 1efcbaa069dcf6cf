// Package ppp is the PPP engine (RFC 1661, 1334, 1994, 1332, 1877): wire formats, the option-negotiation automaton, LCP, PAP, CHAP and IPCP for both the server and the client role.
package ppp

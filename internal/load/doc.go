// Package load emulates PPPoE subscribers (RFC 2516) running PPP in user
// space (RFC 1661, 1334, 1994, 1332) against an access concentrator, to bring
// up many sessions at a set rate, move real IPv4/UDP traffic over them, and
// report set-up latency per stage and traffic loss: the engine of `bras load`.
package load

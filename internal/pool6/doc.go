// Package pool6 carves an IPv6 pool, a covering prefix cut into prefixes
// of one length, and numbers them, for the LNS's in-memory and
// PostgreSQL-shared prefix pools.
package pool6

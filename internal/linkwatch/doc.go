// Package linkwatch follows the carrier of network interfaces through
// rtnetlink link messages, for the daemons and the load generator that
// must act when an access link goes down and comes back.
package linkwatch

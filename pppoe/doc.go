// Package pppoe implements PPPoE (RFC 2516): the discovery and session codecs, an access concentrator and a client on raw Ethernet sockets.
package pppoe

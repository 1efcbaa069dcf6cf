// Package aaa is the RADIUS side of bras: the authentication and accounting client with failover, and the CoA/Disconnect-Message server (RFC 2865, 2866, 5176).
package aaa

// Package lac is the L2TP Access Concentrator: it binds PPPoE subscribers to L2TP sessions towards an LNS and forwards their frames.
package lac

// Package ctl holds the operator commands of bras in the spirit of
// accel-cmd (bras show, bras terminate, bras version, and the older bras
// sessions and bras disconnect), all of them clients of the HTTP API.
package ctl

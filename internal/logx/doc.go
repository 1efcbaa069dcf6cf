// Package logx sets up the daemons' structured logs: text or JSON lines,
// a default level and one per component changeable while the daemon runs,
// bursts of identical warnings and errors folded into a count, and the
// attribute keys and messages of the session event lines.
package logx

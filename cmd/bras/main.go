package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "bras: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: bras <command> [flags]

commands:
  lac         run the L2TP Access Concentrator (PPPoE subscribers -> L2TP)
  lns         run the L2TP Network Server (PPP termination, RADIUS, TUN)
  migrate     apply or show the PostgreSQL schema migrations
  report      billing and operations reports from PostgreSQL
  sessions    list live sessions through the HTTP API
  disconnect  disconnect a session through the HTTP API
  lab         run the built-in lab in network namespaces
  load        PPPoE subscriber emulator and load generator
`)
}

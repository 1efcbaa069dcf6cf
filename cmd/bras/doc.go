// Command bras is the BRAS appliance: bras lac, bras lns, bras migrate, bras report, bras sessions, bras disconnect, bras lab, bras load and bras dial (a voluntary tunnel to an LNS).
package main

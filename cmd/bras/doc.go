// Command bras is the BRAS appliance: bras lac, bras lns, bras migrate, bras report, bras sessions, bras disconnect, bras lab, bras load, bras dial (a voluntary tunnel to an LNS) and bras pw (Ethernet pseudowires over L2TPv3).
package main

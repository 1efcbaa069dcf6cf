// Command bras is the BRAS appliance: bras lac, bras lns, bras migrate, bras report, bras sessions, bras disconnect, bras lab and bras load.
package main

// Package leakcheck finds goroutines a test leaves behind.
package leakcheck

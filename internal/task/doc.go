// Package task runs the parts of a daemon as named tasks on one errgroup.
package task

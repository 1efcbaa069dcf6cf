// Package udpio moves UDP datagrams in batches, one recvmmsg or sendmmsg
// system call per batch, with buffers allocated once and reused (Linux).
package udpio

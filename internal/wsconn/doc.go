// Package wsconn holds what the project's WebSocket ends share below the
// protocol: the buffers an accepted connection is handed over with
// (Response), writes gathered into one syscall (Batch), and writes bounded
// by one timer per socket (WriteLimit). Each is about the cost of a frame
// or of an idle socket (docs/performance.md), not about what a frame says.
package wsconn

// Command chatload is the chat window's load generator (docs/performance.md):
// it plays many customers' browser tabs over the page's own socket protocol
// (no browser) and agents writing at a set rate, against chatwindow on the
// embedded service, and measures what the window costs and how fast it
// relays: sessions held, memory and goroutines per session, relay and
// receipt latency, messages a second, receipt frames, CPU and errors.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		// The floor's own process, started by `chatload -floor`.
		err = runFloor(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatload:", err)
		os.Exit(1)
	}
}

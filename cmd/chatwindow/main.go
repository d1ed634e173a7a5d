// Command chatwindow serves the customer's chat window; `chatwindow
// simulate` serves the embedded LivePerson-compatible messaging service, and
// `chatwindow check` tries an account's settings step by step.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// The office hours' zones (-hours-zone) on a machine without tzdata.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatwindow:", err)
		os.Exit(1)
	}
}

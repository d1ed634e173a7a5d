package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/metrics"
)

// shutdownGrace bounds how long a stopping server waits for its
// connections to finish.
const shutdownGrace = 5 * time.Second

// drainTimeout bounds the sessions' last flush on shutdown; with
// shutdownGrace it keeps a stop under 10 s.
const drainTimeout = 4 * time.Second

// serve serves h on ln until ctx ends, then shuts down: it stops
// accepting, calls beforeWait (which closes long-lived sockets) and waits up
// to shutdownGrace for requests in flight.
func serve(ctx context.Context, logger *slog.Logger, ln net.Listener, h http.Handler, beforeWait func()) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A browser's idle keep-alive connection otherwise stays open for
		// good: a descriptor, a goroutine and 8 KiB of buffers each.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Shutdown does not touch hijacked (WebSocket) connections: close them
	// as soon as shutting down starts.
	srv.RegisterOnShutdown(beforeWait)
	errc := make(chan error, 1)
	// This goroutine ends when the server stops serving (Shutdown below).
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	return nil
}

// startDebug serves the operators' listener on addr until ctx ends (wg
// counts its goroutine) and says where it is.
func startDebug(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger, addr string, mx *metrics.Metrics, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "metrics and pprof on http://%s/\n", displayAddr(ln.Addr().String(), addr))
	wg.Add(1)
	// Serves until the window stops (ctx).
	go func() {
		defer wg.Done()
		if err := serve(ctx, logger, ln, debugMux(mx), func() {}); err != nil {
			logger.Warn("debug listener", "error", err)
		}
	}()
	return nil
}

// debugMux is what -debug-addr serves: the metrics and the runtime's
// profiles (go tool pprof http://ADDR/debug/pprof/heap).
func debugMux(mx *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", mx.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// originsOf is the CSP source list of the window listening on bound (asked
// for as asked): the agent console lets exactly these frame it (the QA
// view). On loopback the page may be opened under any of its loopback
// names (the QA view frames the console under the page's), so each is
// listed, with the window's port; nothing else on the machine is.
func originsOf(bound net.Addr, asked string, secure bool) string {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	host, _, _ := net.SplitHostPort(asked)
	_, port, _ := net.SplitHostPort(bound.String())
	hosts := []string{host}
	if host == "" || isLoopback(asked) {
		// Not [::1]: CSP source expressions take no IPv6 literal.
		hosts = []string{"localhost", "127.0.0.1"}
	}
	out := []string{"'self'"}
	for _, h := range hosts {
		out = append(out, scheme+"://"+net.JoinHostPort(h, port))
	}
	return strings.Join(out, " ")
}

// displayAddr keeps the name the person asked for (localhost) with the
// port actually bound.
func displayAddr(bound, asked string) string {
	host, _, _ := net.SplitHostPort(asked)
	_, port, _ := net.SplitHostPort(bound)
	if host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

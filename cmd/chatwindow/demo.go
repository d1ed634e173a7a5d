package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web/demo"
)

// The demo site (docs/embedding.md): on the embedded service, the program
// also serves a sample brand's page with the window's launcher on it. It
// must be another site than the window's, so that the window runs as on a
// brand's site: framed cross-site, its cookie partitioned. Ports do not
// make sites: it takes the other loopback name (127.0.0.1 for a window on
// localhost, and the other way round).

// demoAuto and demoOff are -demo-addr's words besides an address.
const (
	demoAuto = "auto"
	demoOff  = "off"
)

// checkDemoAddr checks -demo-addr against the window's address.
func checkDemoAddr(demoAddr, windowAddr string, embedded bool) error {
	if demoAddr == demoAuto || demoAddr == demoOff {
		return nil
	}
	if !embedded {
		return fmt.Errorf("-demo-addr %s: the demo site is served with the embedded service only (unset LP_ACCOUNT, or -demo-addr)", demoAddr)
	}
	host, _, err := net.SplitHostPort(demoAddr)
	if err != nil {
		return fmt.Errorf("-demo-addr %q: want host:port, auto or off: %w", demoAddr, err)
	}
	wHost, _, _ := net.SplitHostPort(windowAddr)
	if host == "" || strings.EqualFold(host, wHost) || (wHost == "" && strings.EqualFold(host, "localhost")) {
		return fmt.Errorf("-demo-addr %s: the demo site must be another site than the window's (%s): another host name, not only another port (e.g. 127.0.0.1 beside localhost)", demoAddr, windowAddr)
	}
	return nil
}

// demoSite is the demo site's listener, before it serves.
type demoSite struct {
	ln     net.Listener
	origin string
	// key signs the demo customers' JWTs; nil: it signs nobody in.
	key *rsa.PrivateKey
}

// listenDemo listens for the demo site as cfg says, beside the window
// asked for on cfg.addr and bound at bound; nil when there is none.
func listenDemo(cfg windowConfig, bound net.Addr, logger *slog.Logger) (*demoSite, error) {
	if !cfg.embedded() || cfg.demoAddr == demoOff || strings.TrimSpace(cfg.frameAncestors) == "'none'" {
		return nil, nil
	}
	addr := cfg.demoAddr
	if addr == demoAuto {
		addr = autoDemoAddr(cfg.addr, bound)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && cfg.demoAddr == demoAuto {
		// Its usual port is taken: any will do, it is printed.
		logger.Info("demo site: another port", "addr", addr, "error", err)
		host, _, _ := net.SplitHostPort(addr)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("demo site: listen %s: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &demoSite{ln: ln, origin: "http://" + net.JoinHostPort(host, port)}, nil
}

// autoDemoAddr is the demo site's address beside a window asked for on
// asked and bound at bound: the other loopback name, and the window's port
// plus one when the window's was asked for (0, any, when it was not).
func autoDemoAddr(asked string, bound net.Addr) string {
	host, askedPort, _ := net.SplitHostPort(asked)
	demoHost := "127.0.0.1"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		demoHost = "localhost"
	}
	port := "0"
	if p, err := strconv.Atoi(askedPort); err == nil && p > 0 && p < 65535 {
		if _, boundPort, _ := net.SplitHostPort(bound.String()); boundPort == askedPort {
			port = strconv.Itoa(p + 1)
		}
	}
	return net.JoinHostPort(demoHost, port)
}

// signsIn gives the demo site a key to sign its customers' brand JWTs,
// and the embedded service that key's public half, when the window's
// customers are authenticated by the brand and no key of the brand's own
// (-auth-key) is set.
func (d *demoSite) signsIn(id *identityConfig) error {
	if id.mode != identityAuthenticated || id.authKey != nil {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("demo site: sign-in key: %w", err)
	}
	d.key = key
	id.authKey = &key.PublicKey
	return nil
}

// serveDemo serves the demo site for the window at windowURL until ctx
// ends (wg counts its goroutine), and says where it is.
func serveDemo(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger, d *demoSite, cfg windowConfig, windowURL string, assets *static.Assets, stdout io.Writer) error {
	site, err := demo.New(logger.With("component", "demo"), demo.Config{
		WindowURL: windowURL, AuthMethod: cfg.identity.authMethod,
		Key: d.key, Account: embeddedAccount, Issuer: d.origin,
	}, assets)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo site on %s (a brand's page with the chat launcher)\n", d.origin)
	wg.Add(1)
	// Serves until the window stops (ctx).
	go func() {
		defer wg.Done()
		if err := serve(ctx, logger, d.ln, connlimit.Deadlines(site, cfg.bodyTimeout, connlimit.DefaultResponseTimeout), func() {}); err != nil {
			logger.Warn("demo site", "error", err)
		}
	}()
	return nil
}

// windowOrigin is the origin of the window printed as printed, as a
// browser has it: https behind a proxy that terminates TLS (-secure).
func windowOrigin(printed string, secure bool) string {
	if secure {
		return "https://" + strings.TrimPrefix(printed, "http://")
	}
	return printed
}

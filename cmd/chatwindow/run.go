package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// run is the whole program: it parses args (the environment through getenv
// as a fallback), wires the pieces and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "simulate":
			return runSimulate(ctx, args[1:], getenv, stdout, stderr)
		case "check":
			return runCheck(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	return runWindow(ctx, args, getenv, stdout, stderr)
}

// runWindow starts the chat window: on LivePerson when LP_ACCOUNT is set
// (hosts discovered through LP_CSDS), else on the embedded service, started
// in this process on loopback (docs/simulator.md). It parses the config,
// listens, starts the embedded service (if any), discovers the service's
// hosts, builds the window's node, serves until ctx ends, then drains.
func runWindow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseWindow(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	if cfg.generatedKeys {
		logger.Warn("CHATWINDOW_SESSION_KEYS is not set: using generated keys; sessions will not survive a restart")
	}

	// Stopping goes in order: the window stops taking requests (interrupted),
	// its sessions publish what they have due and end (drain), then
	// everything they talk to stops: the bot and the console's desks
	// (life), the embedded service (service).
	interrupted := ctx
	var wg sync.WaitGroup
	defer wg.Wait()
	service, stopService := context.WithCancel(context.Background())
	defer stopService()
	life, endLife := context.WithCancel(context.Background())
	defer endLife()

	// The window's listener comes first: the agent console lets exactly its
	// origin frame it (the QA view).
	winLn, err := listenWindow(cfg)
	if err != nil {
		return err
	}
	defer winLn.Close()
	window := "http://" + displayAddr(winLn.Addr().String(), cfg.addr)
	// The demo site, a brand's page on another site, may frame the window;
	// it signs in the brand's customers with a key of its own, which the
	// embedded service trusts.
	demoSite, err := listenDemo(cfg, winLn.Addr(), logger)
	if err != nil {
		return err
	}
	if demoSite != nil {
		defer demoSite.ln.Close()
		cfg.frameAncestors += " " + demoSite.origin
		if err := demoSite.signsIn(&cfg.identity); err != nil {
			return err
		}
	}

	hc := &http.Client{Timeout: 15 * time.Second}
	up := upstream{csds: cfg.csds, account: cfg.account}
	var emb *embedded
	if cfg.embedded() {
		emb, err = startEmbedded(life, service, &wg, cfg, logger, hc, originsOf(winLn.Addr(), cfg.addr, cfg.secure), stdout)
		if err != nil {
			return err
		}
		defer emb.svc.Close()
		up = emb.upstream
	}
	ep, err := messaging.Discover(interrupted, hc, up.csds, up.account, cfg.overrides)
	if err != nil {
		return fmt.Errorf("discover %s: %w", up.account, err)
	}
	// One registry per run: two nodes in one test process keep their own.
	mx := metrics.New()
	n, err := newWindow(life, cfg, logger, hc, ep, mx, emb)
	if err != nil {
		return err
	}
	if demoSite != nil {
		if err := serveDemo(interrupted, &wg, logger, demoSite, cfg, windowOrigin(window, cfg.secure), n.Assets(), stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "chat window on %s\n", window)
	fmt.Fprintf(stdout, "customers' identity: %s\n", cfg.identity.describe())
	if cfg.qa {
		fmt.Fprintf(stdout, "QA view on %s/qa\n", window)
	}
	if emb != nil && emb.bot.Name != "" {
		// The bot's card shows an image of the window's own (CSP: img-src 'self').
		image := window + "/static/" + n.Assets().Hashed("demo-card.svg")
		startBot(life, &wg, logger, hc, up, emb.bot, cfg.botDelay, image)
		fmt.Fprintf(stdout, "demo bot answers rings nobody took within %s\n", cfg.botDelay)
	}
	if cfg.debugAddr != "" {
		if err := startDebug(interrupted, &wg, logger, cfg.debugAddr, mx, stdout); err != nil {
			return err
		}
	}
	err = serve(interrupted, logger, winLn, connlimit.Deadlines(n, cfg.bodyTimeout, connlimit.DefaultResponseTimeout), func() {})
	drain(logger, n)
	n.Close() // the sessions, and the tabs' sockets they let go
	endLife()
	stopService()
	return err
}

// upstream is the messaging service the window talks to: LivePerson's
// domain API and account, or the embedded service's.
type upstream struct{ csds, account string }

// listenWindow listens on the window's address. Behind a trusted proxy
// every client has its address: the proxy is exempt from the per-client
// cap, and the socket cap (SocketsPerClient) counts the clients it names.
func listenWindow(cfg windowConfig) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.addr, err)
	}
	return connlimit.NewListener(ln, connlimit.ListenerConfig{MaxPerClient: cfg.connsPerClient, Exempt: cfg.trusted}), nil
}

// newWindow builds the chat window's node on the service at ep; its
// sessions live until life ends. emb, if any, is the embedded service,
// whose agent console the QA view frames.
func newWindow(life context.Context, cfg windowConfig, logger *slog.Logger, hc *http.Client, ep messaging.Endpoints, mx *metrics.Metrics, emb *embedded) (*node.Node, error) {
	// consoleURL stays empty on LivePerson, and /qa says so.
	var consoleURL string
	campaign := cfg.campaign
	if emb != nil {
		consoleURL, campaign = emb.consoleURL, emb.campaign
	}
	// Nil: every new visitor signs up with the service.
	var signup func(context.Context) (string, error)
	var identity node.Identity
	switch id := cfg.identity; id.mode {
	case identityToken:
		signup = func(context.Context) (string, error) { return id.token, nil }
	case identityConnector:
		identity.ConnectorID = id.connector
	case identityAuthenticated:
		identity.AuthMethod = id.authMethod
	}
	return node.New(life, node.Config{
		Logger:     logger,
		Endpoints:  ep,
		HTTPClient: hc,
		Grace:      cfg.grace,
		Backoff:    cfg.backoff,
		Campaign:   campaign,
		Identity:   identity,
		Web: window.Config{
			SessionKeys:      cfg.keys,
			Secure:           cfg.secure,
			Signup:           signup,
			ConsoleURL:       consoleURL,
			QA:               cfg.qa,
			FrameAncestors:   cfg.frameAncestors,
			TrustedProxies:   cfg.trusted,
			Metrics:          mx,
			SocketsPerClient: cfg.socketsPerClient,
			SignupRate:       float64(cfg.signupsPerClient) / 60,
			SignupBurst:      cfg.signupsPerClient,
			Hours:            cfg.office,
			MaxUpload:        cfg.maxUpload,
			Brand:            cfg.brand,
		},
	})
}

// drain has the window's sessions publish what is due and let their tabs
// go, within drainTimeout: the listener is closed.
func drain(logger *slog.Logger, n *node.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := n.Drain(ctx); err != nil {
		logger.Warn("sessions did not all drain", "error", err)
	}
}

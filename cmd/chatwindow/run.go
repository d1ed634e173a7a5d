package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/console"
	"github.com/chatwindow/chatwindow/internal/demobot"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web"
)

// shutdownGrace bounds how long a stopping server waits for its
// connections to finish.
const shutdownGrace = 5 * time.Second

// run is the whole program: it parses args (the environment through getenv
// as a fallback), wires the pieces and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" {
		return runSimulate(ctx, args[1:], getenv, stdout, stderr)
	}
	return runWindow(ctx, args, getenv, stdout, stderr)
}

// runWindow starts the chat window: on LivePerson when LP_ACCOUNT is set
// (hosts discovered through LP_CSDS), else on the embedded service, started
// in this process on loopback (design.md §6).
func runWindow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatwindow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "CHATWINDOW_ADDR", "localhost:8080"), "listen address of the chat window")
	simAddr := fs.String("sim-addr", envOr(getenv, "CHATWINDOW_SIM_ADDR", "127.0.0.1:0"), "listen address of the embedded messaging service (without LP_ACCOUNT)")
	account := fs.String("account", getenv("LP_ACCOUNT"), "LivePerson account; empty: the embedded service")
	csds := fs.String("csds", envOr(getenv, "LP_CSDS", "https://api.liveperson.net"), "the domain API (CSDS) as a URL; its scheme is used for every discovered host")
	logLevel := fs.String("log-level", envOr(getenv, "CHATWINDOW_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	grace := fs.Duration("grace", 30*time.Second, "how long a session keeps its upstream socket after its last tab left")
	reconnectBase := fs.Duration("reconnect-base", envDuration(getenv, "CHATWINDOW_RECONNECT_BASE", 500*time.Millisecond), "upstream reconnect back-off: the first ceiling (full jitter)")
	reconnectMax := fs.Duration("reconnect-max", envDuration(getenv, "CHATWINDOW_RECONNECT_MAX", 30*time.Second), "upstream reconnect back-off: the largest ceiling")
	trusted := fs.String("trusted-proxies", getenv("CHATWINDOW_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (rate limits, logs)")
	frameAncestors := fs.String("frame-ancestors", envOr(getenv, "CHATWINDOW_FRAME_ANCESTORS", "'self'"), "CSP frame-ancestors of the window: the origins that may embed it (a brand's site)")
	secureFlag := fs.String("secure", envOr(getenv, "CHATWINDOW_SECURE", "auto"), "the window is reached over HTTPS (a proxy in front terminates TLS): Secure cookies, https page origins; auto: unless it listens on loopback")
	debugAddr := fs.String("debug-addr", getenv("CHATWINDOW_DEBUG_ADDR"), "listen address of /metrics and /debug/pprof/ for operators (keep it private; empty: none)")
	connsPerClient := fs.Int("conns-per-client", envInt(getenv, "CHATWINDOW_CONNS_PER_CLIENT", connlimit.DefaultConnsPerClient), "TCP connections one client address (an IPv4 address, an IPv6 /64) may hold open on -addr; -trusted-proxies are exempt (0: no cap)")
	socketsPerClient := fs.Int("sockets-per-client", envInt(getenv, "CHATWINDOW_SOCKETS_PER_CLIENT", connlimit.DefaultSocketsPerClient), "sockets (tabs) one client address may hold open; more are answered 429 (0: no cap)")
	signupsPerClient := fs.Int("signups-per-client", envInt(getenv, "CHATWINDOW_SIGNUPS_PER_CLIENT", 10), "new visitors' identities one client address may ask for per minute (0: no cap)")
	bodyTimeout := fs.Duration("body-timeout", envDuration(getenv, "CHATWINDOW_BODY_TIMEOUT", connlimit.DefaultBodyTimeout), "a request's body must have arrived within this of its handler's start")
	qaFlag := fs.String("qa", envOr(getenv, "CHATWINDOW_QA", "auto"), "serve the QA view (/qa, its protocol inspector); auto: only on the embedded service")
	botDelay := fs.Duration("bot-delay", envDuration(getenv, "CHATWINDOW_BOT_DELAY", 3*time.Second), "embedded service: the demo bot takes a ring nobody took within this delay (0: no bot)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (did you mean: chatwindow simulate?)", fs.Args())
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if *signupsPerClient == 0 {
		*signupsPerClient = -1 // web: no bound
	}
	secure := !isLoopback(*addr)
	if *secureFlag != "auto" {
		if secure, err = strconv.ParseBool(*secureFlag); err != nil {
			return fmt.Errorf("-secure %q: want auto, true or false", *secureFlag)
		}
	}
	qa := *account == ""
	if *qaFlag != "auto" {
		if qa, err = strconv.ParseBool(*qaFlag); err != nil {
			return fmt.Errorf("-qa %q: want auto, true or false", *qaFlag)
		}
	}
	proxies, err := cidrs(*trusted)
	if err != nil {
		return err
	}
	keys, generated, err := sessionKeys(getenv("CHATWINDOW_SESSION_KEYS"))
	if err != nil {
		return err
	}
	if generated {
		logger.Warn("CHATWINDOW_SESSION_KEYS is not set: using generated keys; sessions will not survive a restart")
	}

	// Stopping goes in order: the window stops taking requests (interrupted),
	// its sessions publish what they have due and end (drain), then
	// everything they talk to stops: the bot, the console, the embedded
	// service (service).
	interrupted := ctx
	var wg sync.WaitGroup
	defer wg.Wait()
	service, stopService := context.WithCancel(context.Background())
	defer stopService()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The window's listener comes first: the agent console lets exactly its
	// origin frame it (the QA view).
	winLn, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	defer winLn.Close()
	// Behind a trusted proxy every client has its address: the proxy is
	// exempt, and the socket cap (SocketsPerClient) counts the clients it
	// names.
	winLn = connlimit.NewListener(winLn, connlimit.ListenerConfig{MaxPerClient: *connsPerClient, Exempt: proxies})
	window := "http://" + displayAddr(winLn.Addr().String(), *addr)

	hc := &http.Client{Timeout: 15 * time.Second}
	// consoleURL is the agent console's URL, framed by the QA view (/qa)
	// beside the window. Only the embedded service serves a console; on
	// LivePerson it stays empty and /qa says so.
	var consoleURL string
	// botAgent is the demo bot's account on the embedded service.
	botAgent := simulator.Agent{Name: botName, Password: randomPassword()}
	embedded := *account == ""
	if embedded {
		// The embedded service, in this process, on loopback.
		*account = "12345678"
		password := randomPassword()
		agents := []simulator.Agent{{Name: "agent", Password: password}}
		if *botDelay > 0 {
			agents = append(agents, botAgent)
		}
		svc, err := simulator.New(simulator.Config{Account: *account, Agents: agents, Logger: logger.With("component", "simulator")})
		if err != nil {
			return fmt.Errorf("embedded service: %w", err)
		}
		defer svc.Close()
		ln, err := net.Listen("tcp", *simAddr)
		if err != nil {
			return fmt.Errorf("embedded service: listen %s: %w", *simAddr, err)
		}
		*csds = "http://" + ln.Addr().String()
		fmt.Fprintf(stdout, "messaging service on %s (account %s; agent \"agent\", password %s)\n", *csds, *account, password)
		// The agent console is served by the embedded service's listener.
		h, desks, err := withConsole(ctx, logger, hc, *csds, *account, keys, !isLoopback(*simAddr), originsOf(winLn.Addr(), *addr, secure), svc)
		if err != nil {
			ln.Close()
			return err
		}
		consoleURL = *csds + web.ConsolePrefix + "/"
		fmt.Fprintf(stdout, "agent console on %s\n", consoleURL)
		wg.Add(1)
		// The embedded service (and its console) serves until ctx ends;
		// then the console's desks are waited for.
		go func() {
			defer wg.Done()
			// No cap on its connections: its clients are this window's
			// sessions (one socket each, all from loopback).
			if err := serve(service, logger, ln, connlimit.Deadlines(h, *bodyTimeout, connlimit.DefaultResponseTimeout), svc.Close); err != nil {
				logger.Error("embedded service stopped", "error", err)
			}
			desks.Wait()
		}()
	}

	ep, err := messaging.Discover(interrupted, hc, *csds, *account, messaging.Overrides{
		AsyncMessagingEnt: getenv("LP_ASYNCMESSAGINGENT"),
		IDP:               getenv("LP_IDP"),
	})
	if err != nil {
		return fmt.Errorf("discover %s: %w", *account, err)
	}
	fixed := getenv("LP_JWT")
	signup := func(ctx context.Context) (string, error) {
		if fixed != "" {
			return fixed, nil
		}
		return messaging.Signup(ctx, hc, ep)
	}

	assets, err := static.Load()
	if err != nil {
		return err
	}
	// One registry per run: two nodes in one test process keep their own.
	mx := metrics.New()
	mgr := relay.NewManager(ctx, relay.Config{
		Metrics: mx,
		// The QA view's protocol inspector records only where it is served.
		NoInspector: !qa,
		Logger:      logger.With("component", "relay"),
		Renderer:    web.Renderer(keys, assets),
		Grace:       *grace,
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			first := true
			// The consumer's id (not a secret) ties these lines to the
			// session's own (relay logs it with the session id).
			sub, _ := messaging.Subject(token)
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints:  ep,
				HTTPClient: hc,
				// The cookie's token first; when it is refused, a new identity
				// the way the first was obtained.
				Token: func(ctx context.Context) (string, error) {
					if first {
						first = false
						return token, nil
					}
					return signup(ctx)
				},
				SessionOptions: messaging.SessionOptions{
					Logger:  logger.With("component", "upstream", "consumer_id", sub),
					Backoff: messaging.Backoff{Base: *reconnectBase, Cap: *reconnectMax},
					// The session's loop drains it at once; a small buffer
					// keeps an idle session small (the Conn's own queue
					// absorbs a burst).
					UpdateBuffer: 32,
				},
				Tap: tap, // the session's protocol inspector
				// A service that stopped answering is found within 30 s
				// (ping every 20 s, answered within the 10 s request timeout).
				PingInterval: 20 * time.Second,
			})
		},
	})
	srv, err := web.NewServer(logger.With("component", "web"), web.Config{
		SessionKeys:      keys,
		Secure:           secure,
		Signup:           signup,
		ConsoleURL:       consoleURL,
		QA:               qa,
		FrameAncestors:   *frameAncestors,
		TrustedProxies:   proxies,
		Metrics:          mx,
		SocketsPerClient: *socketsPerClient,
		SignupRate:       float64(*signupsPerClient) / 60,
		SignupBurst:      *signupsPerClient,
	}, assets, mgr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chat window on %s\n", window)
	if qa {
		fmt.Fprintf(stdout, "QA view on %s/qa\n", window)
	}
	if embedded && *botDelay > 0 {
		// The bot's card shows an image of the window's own (CSP: img-src 'self').
		image := window + "/static/" + assets.Hashed("demo-card.svg")
		startBot(ctx, &wg, logger, hc, *csds, *account, botAgent, *botDelay, image)
		fmt.Fprintf(stdout, "demo bot answers rings nobody took within %s\n", *botDelay)
	}
	if *debugAddr != "" {
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", *debugAddr, err)
		}
		fmt.Fprintf(stdout, "metrics and pprof on http://%s/\n", displayAddr(dln.Addr().String(), *debugAddr))
		wg.Add(1)
		// Serves until the window stops (interrupted).
		go func() {
			defer wg.Done()
			if err := serve(interrupted, logger, dln, debugMux(mx), func() {}); err != nil {
				logger.Warn("debug listener", "error", err)
			}
		}()
	}
	err = serve(interrupted, logger, winLn, connlimit.Deadlines(srv, *bodyTimeout, connlimit.DefaultResponseTimeout), func() {})
	// The listener is closed: publish what is due, let the tabs go.
	dctx, stopDrain := context.WithTimeout(context.Background(), drainTimeout)
	if derr := mgr.Shutdown(dctx); derr != nil {
		logger.Warn("sessions did not all drain", "error", derr)
	}
	stopDrain()
	cancel()
	mgr.Wait()
	srv.Wait() // the tabs' sockets, let go by the relay
	stopService()
	return err
}

// drainTimeout bounds the sessions' last flush on shutdown; with
// shutdownGrace it keeps a stop under 10 s.
const drainTimeout = 4 * time.Second

// sessionKeys parses CHATWINDOW_SESSION_KEYS (base64 keys, comma
// separated, in hash/encryption pairs, newest first) or generates a pair.
func sessionKeys(v string) (keys [][]byte, generated bool, err error) {
	if v == "" {
		return [][]byte{[]byte(rand.Text() + rand.Text()), []byte(rand.Text())[:32]}, true, nil
	}
	for i, f := range strings.Split(v, ",") {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f))
		if err != nil {
			return nil, false, fmt.Errorf("CHATWINDOW_SESSION_KEYS key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys)%2 != 0 {
		return nil, false, errors.New("CHATWINDOW_SESSION_KEYS: keys come in pairs (hash key, encryption key)")
	}
	for i := 1; i < len(keys); i += 2 {
		if n := len(keys[i]); n != 16 && n != 24 && n != 32 {
			return nil, false, fmt.Errorf("CHATWINDOW_SESSION_KEYS: encryption key %d is %d bytes, want 16, 24 or 32", i/2+1, n)
		}
	}
	return keys, false, nil
}

// cidrs parses a comma-separated list of CIDRs.
func cidrs(v string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
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

// agentFlags collects repeated -agent NAME:PASSWORD flags.
type agentFlags []simulator.Agent

func (a *agentFlags) String() string {
	names := make([]string, len(*a))
	for i, ag := range *a {
		names[i] = ag.Name
	}
	return strings.Join(names, ",")
}

func (a *agentFlags) Set(v string) error {
	name, password, ok := strings.Cut(v, ":")
	if !ok || name == "" || password == "" {
		return fmt.Errorf("want NAME:PASSWORD, got %q", v)
	}
	*a = append(*a, simulator.Agent{Name: name, Password: password})
	return nil
}

// runSimulate runs the embedded messaging service alone.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatwindow simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address (HOST:PORT; loopback unless you mean otherwise)")
	account := fs.String("account", envOr(getenv, "LP_ACCOUNT", "12345678"), "the account (brand) id it serves")
	tlsCert := fs.String("tls-cert", "", "serve TLS with this certificate (PEM); generated self-signed when missing")
	tlsKey := fs.String("tls-key", "", "the certificate's key (PEM); generated when missing")
	logLevel := fs.String("log-level", envOr(getenv, "CHATWINDOW_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	botDelay := fs.Duration("bot-delay", 0, "run the demo bot: it takes a ring nobody took within this delay (0: no bot)")
	rateLimit := fs.Float64("rate-limit", 50, "requests per second each socket may send (protocol.md §7); raise it for load tests that drive one agent socket hard")
	rateBurst := fs.Int("rate-burst", 200, "the burst each socket may send above -rate-limit")
	consoleAncestors := fs.String("console-frame-ancestors", envOr(getenv, "CHATWINDOW_CONSOLE_FRAME_ANCESTORS", "'self'"), "CSP frame-ancestors of the agent console: the chat window's exact origin, for its QA view (e.g. http://localhost:8080)")
	var agents agentFlags
	fs.Var(&agents, "agent", "an agent as NAME:PASSWORD (repeatable); none: one agent \"agent\" with a random password")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("simulate: -tls-cert and -tls-key go together")
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	generated := len(agents) == 0
	if generated {
		agents = agentFlags{{Name: "agent", Password: randomPassword()}}
	}

	all := []simulator.Agent(agents)
	if *botDelay > 0 {
		all = append(all, simulator.Agent{Name: botName, Password: randomPassword()})
	}
	svc, err := simulator.New(simulator.Config{Account: *account, Agents: all, Logger: logger, RateLimit: *rateLimit, RateBurst: *rateBurst})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer svc.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("simulate: listen %s: %w", *addr, err)
	}
	scheme := "http"
	hc := &http.Client{Timeout: 15 * time.Second}
	if *tlsCert != "" {
		cert, created, err := simulator.LoadOrCreateCert(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("simulate: %w", err)
		}
		if created {
			logger.Info("generated a self-signed certificate; trust it with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE", "cert", *tlsCert, "key", *tlsKey)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
		// The bot trusts the service's own certificate.
		pool := x509.NewCertPool()
		pool.AddCert(cert.Leaf)
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}

	keys, generatedKeys, err := sessionKeys(getenv("CHATWINDOW_SESSION_KEYS"))
	if err != nil {
		ln.Close()
		return err
	}
	if generatedKeys {
		logger.Warn("CHATWINDOW_SESSION_KEYS is not set: using generated keys; agent console sign-ins will not survive a restart")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	h, desks, err := withConsole(ctx, logger, hc, base, *account, keys, scheme == "https" || !isLoopback(*addr), *consoleAncestors, svc)
	if err != nil {
		ln.Close()
		return err
	}

	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	fmt.Fprintf(stdout, "account %s\n", *account)
	for _, a := range agents {
		if generated {
			fmt.Fprintf(stdout, "agent %s password %s\n", a.Name, a.Password)
		} else {
			fmt.Fprintf(stdout, "agent %s\n", a.Name)
		}
	}
	fmt.Fprintf(stdout, "agent console on %s%s/\n", base, web.ConsolePrefix)
	if *botDelay > 0 {
		startBot(ctx, &wg, logger, hc, base, *account, all[len(all)-1], *botDelay, "")
		fmt.Fprintf(stdout, "demo bot answers rings nobody took within %s\n", *botDelay)
	}
	// Its connections are not capped: a chat window holds one socket per
	// session, all from its one address.
	err = serve(ctx, logger, ln, connlimit.Deadlines(h, connlimit.DefaultBodyTimeout, connlimit.DefaultResponseTimeout), svc.Close)
	cancel()
	desks.Wait()
	return err
}

// withConsole puts the agent console in front of the embedded service:
// ConsolePrefix goes to the console, everything else to the service. The
// console's agents reach the service at base through the messaging client,
// like any client (with hc, which trusts the service's certificate). Its
// desks live until ctx ends; the caller waits for them.
func withConsole(ctx context.Context, logger *slog.Logger, hc *http.Client, base, account string, keys [][]byte, secure bool, frameAncestors string, svc http.Handler) (http.Handler, *console.Manager, error) {
	desks := console.NewManager(ctx, console.Config{
		Logger:   logger.With("component", "console"),
		Renderer: web.ConsoleRenderer(),
		Agent: func(ctx context.Context, username, password string) (console.Upstream, error) {
			ep, err := messaging.Discover(ctx, hc, base, account, messaging.Overrides{})
			if err != nil {
				return nil, fmt.Errorf("discover %s: %w", account, err)
			}
			return messaging.NewAgent(messaging.AgentConfig{
				Endpoints: ep, Username: username, Password: password, HTTPClient: hc,
				SessionOptions: messaging.SessionOptions{Logger: logger.With("component", "console-agent", "agent", username)},
			})
		},
	})
	assets, err := static.Load()
	if err != nil {
		return nil, nil, err
	}
	con, err := web.NewConsole(logger.With("component", "console-web"), web.ConsoleConfig{
		SessionKeys: keys, Secure: secure, FrameAncestors: frameAncestors,
		SocketsPerClient: connlimit.DefaultSocketsPerClient,
	}, assets, desks)
	if err != nil {
		return nil, nil, fmt.Errorf("agent console: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(web.ConsolePrefix, con)
	mux.Handle(web.ConsolePrefix+"/", con)
	mux.Handle("/", svc)
	return mux, desks, nil
}

// botName is the demo bot's agent.
const botName = "bot"

// startBot runs the demo bot against the service at base until ctx ends;
// image is its card's image URL ("" for the bot's default).
func startBot(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger, hc *http.Client, base, account string, a simulator.Agent, delay time.Duration, image string) {
	wg.Add(1)
	// The bot runs until ctx ends (or its login is refused).
	go func() {
		defer wg.Done()
		log := logger.With("component", "demobot")
		ep, err := messaging.Discover(ctx, hc, base, account, messaging.Overrides{})
		if err != nil {
			log.Error("demo bot: discovery", "error", err)
			return
		}
		err = demobot.Run(ctx, demobot.Config{Endpoints: ep, Username: a.Name, Password: a.Password, HTTPClient: hc, Delay: delay, Logger: log, CardImageURL: image})
		if err != nil {
			log.Error("demo bot stopped", "error", err)
		}
	}()
}

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

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(key)); err == nil {
		return d
	}
	return def
}

func envInt(getenv func(string) string, key string, def int) int {
	if n, err := strconv.Atoi(getenv(key)); err == nil {
		return n
	}
	return def
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func randomPassword() string {
	return rand.Text()[:16]
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

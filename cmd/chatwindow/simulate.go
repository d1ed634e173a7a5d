package main

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/web/console"
	"github.com/chatwindow/chatwindow/web/node"
)

// simulateConfig is what the flags of chatwindow simulate decide.
type simulateConfig struct {
	addr, account string
	// tlsCert and tlsKey, when set, are the certificate to serve TLS
	// with, generated when missing.
	tlsCert, tlsKey  string
	logLevel         slog.Level
	botDelay         time.Duration
	rateLimit        float64
	rateBurst        int
	consoleAncestors string
	survey           bool
	// agents are the service's agents, the bot's last when there is one;
	// generatedAgent: the one agent was made up, its password is shown.
	agents         []simulator.Agent
	generatedAgent bool
	// identity: the brand's key (authKeyFile, read into authKey), its
	// issuer, the unauthenticated connector, the tokens' lifetimes
	// (docs/simulator.md, HTTP).
	authKeyFile, authIssuer, connector string
	authKey                            *rsa.PublicKey
	tokenTTL, extTokenTTL              time.Duration
}

// runSimulate runs the embedded messaging service alone, with the agent
// console in front of it: it parses the config, starts the service,
// listens (TLS when asked), builds the console, serves until ctx ends.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseSimulate(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	svc, err := simulator.New(simulator.Config{Account: cfg.account, Agents: cfg.agents, Logger: logger, RateLimit: cfg.rateLimit, RateBurst: cfg.rateBurst,
		AuthKey: cfg.authKey, AuthIssuer: cfg.authIssuer, ConnectorID: cfg.connector, TokenTTL: cfg.tokenTTL, ExtTokenTTL: cfg.extTokenTTL})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer svc.Close()
	ln, hc, err := listenService(cfg, logger)
	if err != nil {
		return err
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
	tlsOn := cfg.tlsCert != ""
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	con, err := node.NewConsole(ctx, node.ConsoleConfig{
		Logger: logger, Service: svc, ServiceURL: base, Account: cfg.account, HTTPClient: hc,
		Web: console.Config{
			SessionKeys: keys, Secure: tlsOn || !isLoopback(cfg.addr), FrameAncestors: cfg.consoleAncestors,
			SocketsPerClient: connlimit.DefaultSocketsPerClient,
		},
	})
	if err != nil {
		ln.Close()
		return err
	}
	printService(stdout, cfg, base)
	if cfg.botDelay > 0 {
		startBot(ctx, &wg, logger, hc, upstream{csds: base, account: cfg.account}, cfg.agents[len(cfg.agents)-1], cfg.botDelay, "")
		fmt.Fprintf(stdout, "demo bot answers rings nobody took within %s\n", cfg.botDelay)
	}
	// Its connections are not capped: a chat window holds one socket per
	// session, all from its one address.
	err = serve(ctx, logger, ln, connlimit.Deadlines(con, connlimit.DefaultBodyTimeout, connlimit.DefaultResponseTimeout), svc.Close)
	cancel()
	con.Wait()
	return err
}

// parseSimulate parses the flags of chatwindow simulate (the environment
// through getenv as a fallback); usage and flag errors go to stderr.
func parseSimulate(args []string, getenv func(string) string, stderr io.Writer) (simulateConfig, error) {
	fs := flag.NewFlagSet("chatwindow simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address (HOST:PORT; loopback unless you mean otherwise)")
	account := fs.String("account", envOr(getenv, "LP_ACCOUNT", "12345678"), "the account (brand) id it serves")
	tlsCert := fs.String("tls-cert", "", "serve TLS with this certificate (PEM); generated self-signed when missing")
	tlsKey := fs.String("tls-key", "", "the certificate's key (PEM); generated when missing")
	logLevel := fs.String("log-level", envOr(getenv, "CHATWINDOW_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	botDelay := fs.Duration("bot-delay", 0, "run the demo bot: it takes a ring nobody took within this delay (0: no bot)")
	rateLimit := fs.Float64("rate-limit", 50, "requests per second each socket may send (docs/protocol.md, Limits); raise it for load tests that drive one agent socket hard")
	rateBurst := fs.Int("rate-burst", 200, "the burst each socket may send above -rate-limit")
	consoleAncestors := fs.String("console-frame-ancestors", envOr(getenv, "CHATWINDOW_CONSOLE_FRAME_ANCESTORS", "'self'"), "CSP frame-ancestors of the agent console: the chat window's exact origin, for its QA view (e.g. http://localhost:8080)")
	authKey := fs.String("auth-key", "", "authenticate verifies brand tokens (RS256) with this public key: the authentication connector's \"JWT Public Key\" (PEM or its bare base64); none: brand tokens are taken unverified, a demo")
	authIssuer := fs.String("auth-issuer", "", "with -auth-key: the only iss taken from brand tokens (any when empty)")
	connector := fs.String("connector", "", "serve the unauthenticated connector with this id (anonymous/authorize, app/ID/authenticate)")
	tokenTTL := fs.Duration("token-ttl", 24*time.Hour, "lifetime of the consumer tokens that open sockets (a brand token's own exp is kept when sooner); an open socket is closed at its token's expiry")
	extTokenTTL := fs.Duration("ext-token-ttl", 10*time.Minute, "lifetime of the unauthenticated connector's id_token (LivePerson's default: 10 min)")
	survey := fs.Bool("survey", false, "run a post-conversation survey bot after a conversation an agent took is closed (docs/simulator.md, Surveys); without it the legacy CSAT is the only survey")
	var agents agentFlags
	fs.Var(&agents, "agent", "an agent as NAME:PASSWORD (repeatable); none: one agent \"agent\" with a random password")
	if err := fs.Parse(args); err != nil {
		return simulateConfig{}, err
	}
	if *tokenTTL <= 0 || *extTokenTTL <= 0 {
		return simulateConfig{}, errors.New("simulate: -token-ttl and -ext-token-ttl must be positive")
	}
	if fs.NArg() > 0 {
		return simulateConfig{}, fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return simulateConfig{}, errors.New("simulate: -tls-cert and -tls-key go together")
	}
	level, err := parseLevel(*logLevel)
	if err != nil {
		return simulateConfig{}, err
	}
	c := simulateConfig{
		addr: *addr, account: *account, tlsCert: *tlsCert, tlsKey: *tlsKey, logLevel: level,
		botDelay: *botDelay, rateLimit: *rateLimit, rateBurst: *rateBurst, consoleAncestors: *consoleAncestors, survey: *survey,
		agents: agents, generatedAgent: len(agents) == 0,
		authKeyFile: *authKey, authIssuer: *authIssuer, connector: *connector, tokenTTL: *tokenTTL, extTokenTTL: *extTokenTTL,
	}
	if c.authKeyFile != "" {
		b, err := os.ReadFile(c.authKeyFile)
		if err != nil {
			return simulateConfig{}, fmt.Errorf("simulate: -auth-key: %w", err)
		}
		if c.authKey, err = simulator.ParseBrandKey(b); err != nil {
			return simulateConfig{}, fmt.Errorf("simulate: -auth-key %s: %w", c.authKeyFile, err)
		}
	}
	if c.generatedAgent {
		c.agents = []simulator.Agent{{Name: "agent", Password: randomPassword()}}
	}
	if c.botDelay > 0 {
		c.agents = append(c.agents, simulator.Agent{Name: botName, Password: randomPassword()})
	}
	return c, nil
}

// listenService listens on cfg.addr, with TLS when cfg has a certificate
// (generated when its files are missing); hc reaches the service there,
// trusting its certificate.
func listenService(cfg simulateConfig, logger *slog.Logger) (net.Listener, *http.Client, error) {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("simulate: listen %s: %w", cfg.addr, err)
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	if cfg.tlsCert == "" {
		return ln, hc, nil
	}
	cert, created, err := simulator.LoadOrCreateCert(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("simulate: %w", err)
	}
	if created {
		logger.Info("generated a self-signed certificate; trust it with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE", "cert", cfg.tlsCert, "key", cfg.tlsKey)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), hc, nil
}

// printService says where the service is, and its agents (with the
// password of one it made up).
func printService(stdout io.Writer, cfg simulateConfig, base string) {
	fmt.Fprintf(stdout, "listening on %s\n", base)
	fmt.Fprintf(stdout, "account %s\n", cfg.account)
	agents := cfg.agents
	if cfg.botDelay > 0 {
		agents = agents[:len(agents)-1] // the bot's, not shown
	}
	for _, a := range agents {
		if cfg.generatedAgent {
			fmt.Fprintf(stdout, "agent %s password %s\n", a.Name, a.Password)
		} else {
			fmt.Fprintf(stdout, "agent %s\n", a.Name)
		}
	}
	fmt.Fprintf(stdout, "agent console on %s%s/\n", base, console.Prefix)
	if cfg.authKeyFile != "" {
		fmt.Fprintf(stdout, "authenticate verifies brand tokens with %s\n", cfg.authKeyFile)
	} else {
		fmt.Fprintln(stdout, "authenticate takes brand tokens unverified (demo; -auth-key to verify)")
	}
	if cfg.connector != "" {
		fmt.Fprintf(stdout, "unauthenticated connector %s\n", cfg.connector)
	}
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

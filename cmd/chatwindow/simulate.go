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
	"slices"
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
	// engagements route conversations to skills; closedUntil, when set,
	// is when the contact center opens (conversations show a delay).
	engagements []simulator.Engagement
	closedUntil time.Time
	// debugAddr, when set, serves the runtime's profiles there (the
	// window's -debug-addr listener; no metrics: the service keeps none).
	debugAddr string
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
		AuthKey: cfg.authKey, AuthIssuer: cfg.authIssuer, ConnectorID: cfg.connector, TokenTTL: cfg.tokenTTL, ExtTokenTTL: cfg.extTokenTTL,
		Survey: cfg.survey, Engagements: cfg.engagements, ClosedUntil: cfg.closedUntil})
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
	if cfg.debugAddr != "" {
		// Profiles of the service under load (go tool pprof
		// http://ADDR/debug/pprof/profile); ends with ctx.
		if err := startDebug(ctx, &wg, logger, cfg.debugAddr, nil, stdout); err != nil {
			ln.Close()
			return fmt.Errorf("simulate: -debug-addr: %w", err)
		}
	}
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
		Skills: svc.Skills(),
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
	fs.Var(&agents, "agent", "an agent as NAME:PASSWORD[:SKILL[,SKILL]] (repeatable; skills are numbers; without skills it takes only conversations of no skill); none: one agent \"agent\" with a random password and every engagement's skill")
	var engagements engagementFlags
	fs.Var(&engagements, "engagement", "an engagement as CAMPAIGN:ENGAGEMENT:SKILL (repeatable): conversations requested with that campaignInfo go to that skill's agents")
	debugAddr := fs.String("debug-addr", "", "listen address of /debug/pprof/ for operators and load tests (keep it private; empty: none)")
	closedUntil := fs.String("closed-until", "", "the contact center is closed until this time (RFC 3339, or a duration from now): conversations show a delay until then")
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
		agents: agents, generatedAgent: len(agents) == 0, engagements: engagements,
		authKeyFile: *authKey, authIssuer: *authIssuer, connector: *connector, tokenTTL: *tokenTTL, extTokenTTL: *extTokenTTL,
		debugAddr: *debugAddr,
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
	if c.closedUntil, err = parseClosedUntil(*closedUntil, time.Now()); err != nil {
		return simulateConfig{}, err
	}
	if c.generatedAgent {
		c.agents = []simulator.Agent{{Name: "agent", Password: randomPassword(), Skills: engagementSkills(engagements)}}
	}
	if c.botDelay > 0 {
		// [ours] The demo bot takes every skill there is: it stands in for
		// whoever is not there.
		c.agents = append(c.agents, simulator.Agent{Name: botName, Password: randomPassword(), Skills: allSkills(c.agents, engagements)})
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
		skills := ""
		if len(a.Skills) > 0 {
			skills = " skills " + strings.Join(a.Skills, ",")
		}
		if cfg.generatedAgent {
			fmt.Fprintf(stdout, "agent %s password %s%s\n", a.Name, a.Password, skills)
		} else {
			fmt.Fprintf(stdout, "agent %s%s\n", a.Name, skills)
		}
	}
	for _, e := range cfg.engagements {
		fmt.Fprintf(stdout, "engagement %s of campaign %s routes to skill %s\n", e.EngagementID, e.CampaignID, e.SkillID)
	}
	if !cfg.closedUntil.IsZero() {
		fmt.Fprintf(stdout, "closed until %s\n", cfg.closedUntil.UTC().Format(time.RFC3339))
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

// Set parses NAME:PASSWORD[:SKILL[,SKILL]]. The first colon ends the name;
// with a second one, the last colon starts the skills, so a password with
// a colon in it needs the skills part (a trailing ":" for none).
func (a *agentFlags) Set(v string) error {
	name, rest, ok := strings.Cut(v, ":")
	password, skills := rest, ""
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		password, skills = rest[:i], rest[i+1:]
	}
	if !ok || name == "" || password == "" {
		return fmt.Errorf("want NAME:PASSWORD[:SKILL[,SKILL]], got %q", v)
	}
	ag := simulator.Agent{Name: name, Password: password}
	for sk := range strings.SplitSeq(skills, ",") {
		if sk = strings.TrimSpace(sk); sk == "" {
			continue
		}
		if !simulator.ValidSkillID(sk) {
			return fmt.Errorf("agent %s: skill %q is not a skill id (a positive number; a password with \":\" needs the skills part: NAME:PASSWORD:SKILLS, or a trailing \":\" for none)", name, sk)
		}
		ag.Skills = append(ag.Skills, sk)
	}
	*a = append(*a, ag)
	return nil
}

// engagementFlags collects repeated -engagement CAMPAIGN:ENGAGEMENT:SKILL
// flags.
type engagementFlags []simulator.Engagement

func (e *engagementFlags) String() string {
	var out []string
	for _, g := range *e {
		out = append(out, g.CampaignID+":"+g.EngagementID+":"+g.SkillID)
	}
	return strings.Join(out, ",")
}

func (e *engagementFlags) Set(v string) error {
	f := strings.Split(v, ":")
	if len(f) != 3 {
		return fmt.Errorf("want CAMPAIGN:ENGAGEMENT:SKILL, got %q", v)
	}
	for _, id := range f {
		if !simulator.ValidSkillID(strings.TrimSpace(id)) {
			return fmt.Errorf("engagement %q: %q is not an id (a positive number)", v, id)
		}
	}
	*e = append(*e, simulator.Engagement{CampaignID: strings.TrimSpace(f[0]), EngagementID: strings.TrimSpace(f[1]), SkillID: strings.TrimSpace(f[2])})
	return nil
}

// parseClosedUntil reads -closed-until: an RFC 3339 time, or a duration
// from now; empty: open.
func parseClosedUntil(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("simulate: -closed-until %q: want an RFC 3339 time (2026-01-05T09:00:00Z) or a duration (12h)", v)
}

// engagementSkills are the skills the engagements route to.
func engagementSkills(es []simulator.Engagement) []string {
	var out []string
	for _, e := range es {
		if !slices.Contains(out, e.SkillID) {
			out = append(out, e.SkillID)
		}
	}
	return out
}

// allSkills are every skill of the agents and the engagements.
func allSkills(agents []simulator.Agent, es []simulator.Engagement) []string {
	out := engagementSkills(es)
	for _, a := range agents {
		for _, sk := range a.Skills {
			if !slices.Contains(out, sk) {
				out = append(out, sk)
			}
		}
	}
	return out
}

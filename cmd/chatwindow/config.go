package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/hours"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/web/window"
)

// windowConfig is what the chat window's flags and environment decide.
type windowConfig struct {
	addr    string // the window's listen address
	simAddr string // the embedded service's
	// account is the LivePerson account, its hosts discovered through
	// csds; empty: the embedded service.
	account, csds string
	// overrides name hosts that discovery would otherwise look up.
	overrides messaging.Overrides
	// identity is how customers get theirs (identity.go).
	identity identityConfig
	logLevel slog.Level
	grace    time.Duration
	backoff  messaging.Backoff
	// trusted are the reverse proxies whose X-Forwarded-For is believed.
	trusted        []*net.IPNet
	frameAncestors string
	secure         bool
	qa             bool
	debugAddr      string
	connsPerClient int
	// socketsPerClient and signupsPerClient: 0 is no cap, as the flags
	// say (signupsPerClient is then -1, web's "no bound").
	socketsPerClient int
	signupsPerClient int
	bodyTimeout      time.Duration
	// maxUpload is the largest file a customer may send (-1: none).
	maxUpload int64
	botDelay  time.Duration
	// survey: the embedded service runs a post-conversation survey.
	survey bool
	// office is the contact center's hours (nil: always open).
	office *hours.Schedule
	// keys are the session cookies' keys; generatedKeys: made up for this
	// run, not set in the environment.
	keys          [][]byte
	generatedKeys bool

	// brand is how the window and its launcher look (docs/embedding.md).
	brand window.Brand
	// demoAddr is the demo site's address: auto (beside the window, on
	// the other loopback name), off, or host:port.
	demoAddr string

	// campaign, when set, is every conversation request's campaignInfo
	// (LP_CAMPAIGN_ID, LP_ENGAGEMENT_ID); the embedded service routes it
	// to the demo skill, and uses a demo campaign when it is not set.
	campaign *protocol.CampaignInfo
}

// embedded reports whether the window runs on the embedded service.
func (c windowConfig) embedded() bool { return c.account == "" }

// parseWindow parses the window's flags (the environment through getenv
// as a fallback); usage and flag errors go to stderr.
func parseWindow(args []string, getenv func(string) string, stderr io.Writer) (windowConfig, error) {
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
	frameAncestors := fs.String("frame-ancestors", envOr(getenv, "CHATWINDOW_FRAME_ANCESTORS", "'self'"), "CSP frame-ancestors of the window: the origins that may embed it (a brand's site), which its embed.js panel answers")
	demoAddr := fs.String("demo-addr", envOr(getenv, "CHATWINDOW_DEMO_ADDR", demoAuto), "embedded service: listen address of the demo site, a brand's page with the launcher, on another host name than the window (auto: the other loopback name, the window's port + 1; off: none)")
	brandFlags := addBrandFlags(fs, getenv)
	secureFlag := fs.String("secure", envOr(getenv, "CHATWINDOW_SECURE", "auto"), "the window is reached over HTTPS (a proxy in front terminates TLS): Secure cookies, https page origins; auto: unless it listens on loopback")
	debugAddr := fs.String("debug-addr", getenv("CHATWINDOW_DEBUG_ADDR"), "listen address of /metrics and /debug/pprof/ for operators (keep it private; empty: none)")
	connsPerClient := fs.Int("conns-per-client", envInt(getenv, "CHATWINDOW_CONNS_PER_CLIENT", connlimit.DefaultConnsPerClient), "TCP connections one client address (an IPv4 address, an IPv6 /64) may hold open on -addr; -trusted-proxies are exempt (0: no cap)")
	socketsPerClient := fs.Int("sockets-per-client", envInt(getenv, "CHATWINDOW_SOCKETS_PER_CLIENT", connlimit.DefaultSocketsPerClient), "sockets (tabs) one client address may hold open; more are answered 429 (0: no cap)")
	signupsPerClient := fs.Int("signups-per-client", envInt(getenv, "CHATWINDOW_SIGNUPS_PER_CLIENT", 10), "new visitors' identities one client address may ask for per minute (0: no cap)")
	bodyTimeout := fs.Duration("body-timeout", envDuration(getenv, "CHATWINDOW_BODY_TIMEOUT", connlimit.DefaultBodyTimeout), "a request's body must have arrived within this of its handler's start")
	maxUpload := fs.Int64("max-upload", envInt64(getenv, "CHATWINDOW_MAX_UPLOAD", window.DefaultMaxUpload), "the largest file in bytes a customer may send from the window (at most LivePerson's 3 MB, 3145728; 0: none)")
	qaFlag := fs.String("qa", envOr(getenv, "CHATWINDOW_QA", "auto"), "serve the QA view (/qa, its protocol inspector); auto: only on the embedded service")
	botDelay := fs.Duration("bot-delay", envDuration(getenv, "CHATWINDOW_BOT_DELAY", 3*time.Second), "embedded service: the demo bot takes a ring nobody took within this delay (0: no bot)")
	surveyDefault, err := envBool(getenv, "CHATWINDOW_SURVEY", true)
	if err != nil {
		return windowConfig{}, err
	}
	idFlags := addIdentityFlags(fs, getenv)
	officeHours := fs.String("hours", getenv("CHATWINDOW_HOURS"), "the contact center's office hours, like \"Mon-Fri 09:00-17:00; Sat 10:00-14:00\": outside them the window says when agents answer (empty: always open)")
	officeZone := fs.String("hours-zone", envOr(getenv, "CHATWINDOW_HOURS_ZONE", "UTC"), "the time zone of -hours (an IANA name, like Europe/Berlin)")
	survey := fs.Bool("survey", surveyDefault, "embedded service: a survey bot asks a few questions after a conversation an agent took is closed (false: the legacy rating only)")
	if err := fs.Parse(args); err != nil {
		return windowConfig{}, err
	}
	if fs.NArg() > 0 {
		return windowConfig{}, fmt.Errorf("unexpected arguments %q (did you mean: chatwindow simulate?)", fs.Args())
	}
	c := windowConfig{
		addr: *addr, simAddr: *simAddr, account: *account, csds: *csds,
		overrides: messaging.Overrides{AsyncMessagingEnt: getenv("LP_ASYNCMESSAGINGENT"), IDP: getenv("LP_IDP")},
		grace:     *grace, backoff: messaging.Backoff{Base: *reconnectBase, Cap: *reconnectMax},
		frameAncestors: *frameAncestors, debugAddr: *debugAddr,
		connsPerClient: *connsPerClient, socketsPerClient: *socketsPerClient, signupsPerClient: *signupsPerClient,
		bodyTimeout: *bodyTimeout, botDelay: *botDelay, survey: *survey, demoAddr: *demoAddr,
	}
	if err := checkFrameAncestors(c.frameAncestors); err != nil {
		return windowConfig{}, err
	}
	if err := checkDemoAddr(c.demoAddr, c.addr, c.embedded()); err != nil {
		return windowConfig{}, err
	}
	if c.brand, err = brandFlags.parse(); err != nil {
		return windowConfig{}, err
	}
	if c.logLevel, err = parseLevel(*logLevel); err != nil {
		return windowConfig{}, err
	}
	if c.identity, err = idFlags.parse(c.embedded()); err != nil {
		return windowConfig{}, err
	}
	if c.office, err = officeHoursOf(*officeHours, *officeZone); err != nil {
		return windowConfig{}, err
	}
	if c.signupsPerClient == 0 {
		c.signupsPerClient = -1 // web: no bound
	}
	switch c.maxUpload = *maxUpload; {
	case c.maxUpload < 0 || c.maxUpload > window.DefaultMaxUpload:
		return windowConfig{}, fmt.Errorf("-max-upload %d: from 0 (no files) to %d bytes (LivePerson's 3 MB)", c.maxUpload, window.DefaultMaxUpload)
	case c.maxUpload == 0:
		c.maxUpload = -1 // web: no files
	}
	if c.secure, err = autoBool("-secure", *secureFlag, !isLoopback(c.addr)); err != nil {
		return windowConfig{}, err
	}
	if c.qa, err = autoBool("-qa", *qaFlag, c.embedded()); err != nil {
		return windowConfig{}, err
	}
	if c.trusted, err = cidrs(*trusted); err != nil {
		return windowConfig{}, err
	}
	if c.keys, c.generatedKeys, err = sessionKeys(getenv("CHATWINDOW_SESSION_KEYS")); err != nil {
		return windowConfig{}, err
	}
	if c.campaign, err = campaign(getenv("LP_CAMPAIGN_ID"), getenv("LP_ENGAGEMENT_ID")); err != nil {
		return windowConfig{}, err
	}
	return c, nil
}

// campaign parses LP_CAMPAIGN_ID and LP_ENGAGEMENT_ID: both or neither,
// numbers as LivePerson's ids are.
func campaign(campaignID, engagementID string) (*protocol.CampaignInfo, error) {
	campaignID, engagementID = strings.TrimSpace(campaignID), strings.TrimSpace(engagementID)
	switch {
	case campaignID == "" && engagementID == "":
		return nil, nil
	case campaignID == "" || engagementID == "":
		return nil, errors.New("LP_CAMPAIGN_ID and LP_ENGAGEMENT_ID go together: set both (the engagement of the campaign the window is for) or neither")
	case !simulator.ValidSkillID(campaignID) || !simulator.ValidSkillID(engagementID):
		return nil, fmt.Errorf("LP_CAMPAIGN_ID %q and LP_ENGAGEMENT_ID %q: LivePerson's ids are numbers", campaignID, engagementID)
	}
	return &protocol.CampaignInfo{CampaignID: protocol.ID(campaignID), EngagementID: protocol.ID(engagementID)}, nil
}

// officeHoursOf parses -hours in the zone of -hours-zone.
func officeHoursOf(rules, zone string) (*hours.Schedule, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("-hours-zone %q: %w", zone, err)
	}
	return hours.Parse(rules, loc)
}

// autoBool parses a flag that is auto, true or false; auto is def.
func autoBool(name, v string, def bool) (bool, error) {
	if v == "auto" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want auto, true or false", name, v)
	}
	return b, nil
}

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

// parseLevel parses a -log-level.
func parseLevel(level string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("log level %q: %w", level, err)
	}
	return l, nil
}

// newLogger logs text at level to w.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(key)); err == nil {
		return d
	}
	return def
}

func envInt64(getenv func(string) string, key string, def int64) int64 {
	if n, err := strconv.ParseInt(getenv(key), 10, 64); err == nil {
		return n
	}
	return def
}

func envInt(getenv func(string) string, key string, def int) int {
	if n, err := strconv.Atoi(getenv(key)); err == nil {
		return n
	}
	return def
}

// envBool reads a boolean setting; a value that is not one is an error.
func envBool(getenv func(string) string, key string, def bool) (bool, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", key, v)
	}
	return b, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

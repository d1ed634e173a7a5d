// Package simulator is the embedded LivePerson-compatible messaging service:
// the domain API, the IDP, agent login, the consumer socket (v3) and the
// agent socket (v2.1, the dialect of LivePerson's Node.js agent SDK), with
// conversations kept in memory. It speaks the wire of docs/protocol.md
// exactly, so that the client's real code path runs against it unchanged;
// its decisions where LivePerson is silent are listed in docs/simulator.md.
package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/lockout"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Agent is an agent account that may log in through the agent login.
// Skills are the skill ids it is rung for besides conversations of no
// skill (docs/simulator.md, Routing); none: only those.
type Agent struct {
	Name, Password string
	Skills         []string
}

// Config configures a Service. Zero values take the defaults named on each
// field.
type Config struct {
	// Account is the one account (brand id) the service serves.
	Account string
	// Agents are the agent accounts that may log in.
	Agents []Agent
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of every timestamp, token expiry and ring expiry
	// timestamp; default time.Now.
	Now func() time.Time
	// NewID makes the ids of consumers, conversations, dialogs,
	// subscriptions, rings and agent PIds; default a random UUID v4.
	NewID func() string
	// IdleTimeout closes a socket on which nothing (not even a ping) was
	// received for that long; default 60 s.
	IdleTimeout time.Duration
	// InitTimeout closes (4401) a consumer socket that did not authenticate
	// by header and sent no InitConnection within it; default 5 s.
	InitTimeout time.Duration
	// RingTimeout is how long a ring waits for an answer before it expires
	// and the agent is rung again; default 60 s.
	RingTimeout time.Duration
	// TokenTTL is the lifetime of the consumer tokens (the socket's): of
	// signup and the connector's authenticate, and the cap of a brand
	// token's; default 24 h.
	TokenTTL time.Duration
	// ExtTokenTTL is the lifetime of the unauthenticated connector's
	// external id_token; default 10 min (Unauthenticated Messaging).
	ExtTokenTTL time.Duration
	// ExtTokenRefresh is how long after its expiry an id_token may still
	// be refreshed; default 730 h (Unauthenticated Messaging).
	ExtTokenRefresh time.Duration
	// ExpiryCheck is how often, on the real clock, an open consumer
	// socket's token expiry is checked against Now; default 1 s.
	ExpiryCheck time.Duration
	// AuthKey is the brand's RS256 public key (ParseBrandKey): authenticate
	// verifies the brand's identity tokens with it. Nil: they are taken
	// unverified, a demo.
	AuthKey *rsa.PublicKey
	// AuthIssuer, when set, is the only iss authenticate takes from a
	// brand token (the Authentication Detailed API's "name of the
	// Authorization Service as configured in LivePerson").
	AuthIssuer string
	// ConnectorID is the unauthenticated connector's id: anonymous
	// authorize and app/{ConnectorID}/authenticate answer only with it.
	ConnectorID string
	// SessionTTL is how long an agent's login session (its bearer and
	// csrf) lives after the login or its last refresh, on the Now clock;
	// default 8 h, the sessionTTl of the Login Service API's login answer.
	SessionTTL time.Duration
	// LoginLimits bound failed agent logins; zero fields take defaults.
	LoginLimits LoginLimits
	// RateLimit and RateBurst are the per-socket request budget; default 50
	// requests per second with bursts of 200 (docs/protocol.md, Limits).
	RateLimit float64
	RateBurst int
	// FileURLTTL is how long the signed URLs of file sharing live;
	// default 1 min (File Sharing: "File expiration is set to 1 minute by
	// default").
	FileURLTTL time.Duration
	// FileStorage bounds the bytes of the files kept in memory; default
	// 128 MiB [ours]. A full store refuses uploads (507).
	FileStorage int64
	// SigningKey signs consumer tokens; generated once per Service when nil.
	// Tests share one key to save the generation time.
	SigningKey *rsa.PrivateKey
	// Survey runs a post-conversation survey bot when an assigned
	// conversation's MAIN dialog closes (survey.go); without it a close
	// ends the conversation and the legacy CSAT is the only survey.
	Survey bool
	// SurveyTimeout closes a survey the consumer left unfinished, on the
	// Now clock; default 1 h (Conversation Builder's survey timeout).
	SurveyTimeout time.Duration
	// Engagements route the conversations requested with their
	// campaignInfo to their skill (docs/simulator.md, Routing).
	Engagements []Engagement
	// ClosedUntil, when later than Now, is when the contact center opens
	// again: conversations show a delay of ClosedType (NIGHT, WEEKEND or
	// HOLIDAY; default NIGHT) until then.
	ClosedUntil time.Time
	ClosedType  string
}

// LoginLimits bound failed agent logins (docs/simulator.md): after
// PerUser.Threshold failures for one username, or PerAddr.Threshold from
// one client address whatever the usernames, the login answers 429 with
// Retry-After, even to the right password, until the lockout ends. Each
// further round of failures doubles the lockout, up to its cap; a success
// clears the username's count. Both run on the Now clock.
type LoginLimits struct {
	// PerUser counts per username; defaults: 10 failures, locked 1 min,
	// doubling up to 1 h, forgotten 1 h after.
	PerUser lockout.Policy
	// PerAddr counts per client address (an IPv6 address by its /64),
	// against password spraying; defaults: 30 failures, locked 1 min,
	// doubling up to 1 h, forgotten 1 h after. A success does not clear it.
	PerAddr lockout.Policy
	// LimitLoopback applies PerAddr to loopback peers too. Off by default:
	// the agent console signs every agent in from loopback, so an attacker
	// guessing there would lock every console user out; the console limits
	// per browser address itself (docs/console.md).
	LimitLoopback bool
}

// AgentInfo describes a configured agent and its ids (docs/protocol.md, Agent
// login).
type AgentInfo struct {
	Name string
	// UserID is the numeric user id of agent login's config.userId.
	UserID string
	// OldID is the agent's old id, account.userId.
	OldID string
	// PID is the agent's PId (config.userPid).
	PID string
}

// Limits (docs/protocol.md, Limits).
const (
	maxFrameBytes   = 64 << 10
	maxTextBytes    = 8 << 10
	maxSequenceList = 1000
	maxIDChars      = 64
	maxJWTChars     = 2048
	// outboxSize bounds a socket's queue of frames not yet written; a
	// socket that falls that far behind is closed rather than slowing
	// everyone down.
	outboxSize = 1024
	// writeTimeout bounds every write on a socket.
	writeTimeout = 10 * time.Second
)

// Service is the embedded messaging service for one account. It is an
// http.Handler; Close ends every socket and goroutine it started.
type Service struct {
	cfg Config
	log *slog.Logger
	// outbox is the capacity of each new socket's outbox (outboxSize;
	// tests shrink it).
	outbox int
	// writeTimeout bounds each write on a socket (writeTimeout; tests
	// shrink it).
	writeTimeout time.Duration
	tokens       *tokenIssuer
	mux          *http.ServeMux
	// files is the file storage (files.go); its own lock.
	files *fileStore

	// wg counts socket handlers still running; Close waits for them.
	wg sync.WaitGroup

	// mu guards everything below and every entity reachable from it
	// (conversations, dialogs, subscriptions, rings, agents' state).
	mu            sync.Mutex
	closed        bool
	sockets       map[*socket]struct{}
	agents        []*agentAccount
	sessions      map[string]*agentSession // by bearer
	consumers     map[string]*consumerRec
	conversations map[string]*conversation
	convOrder     []*conversation // creation order, for snapshots
	dialogs       map[string]*dialog
	convSubs      map[string]map[*convSub]struct{} // by convSub.key
	rings         map[string]*ring
	surveys       surveyRuns
	// held is the conversation a transfer request holds the changes of,
	// heldDirty whether one was held (skills.go).
	held      *conversation
	heldDirty bool

	// loginMu makes a login's lockout check, password check and count one
	// step, so that logins sent together cannot pass the threshold.
	loginMu sync.Mutex
	byUser  *lockout.Table // failed logins per account and username
	byAddr  *lockout.Table // failed logins per client address
}

// New validates cfg, fills in its defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Account == "" {
		return nil, errors.New("simulator: no account")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = newUUID
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 5 * time.Second
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 60 * time.Second
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.ExtTokenTTL <= 0 {
		cfg.ExtTokenTTL = 10 * time.Minute
	}
	if cfg.ExtTokenRefresh <= 0 {
		cfg.ExtTokenRefresh = 730 * time.Hour
	}
	if cfg.ExpiryCheck <= 0 {
		cfg.ExpiryCheck = time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.LoginLimits.PerUser.Threshold <= 0 {
		cfg.LoginLimits.PerUser.Threshold = 10
	}
	if cfg.LoginLimits.PerAddr.Threshold <= 0 {
		cfg.LoginLimits.PerAddr.Threshold = 30
	}
	if cfg.SurveyTimeout <= 0 {
		cfg.SurveyTimeout = time.Hour
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 50
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 200
	}
	if cfg.FileURLTTL <= 0 {
		cfg.FileURLTTL = time.Minute
	}
	if cfg.FileStorage <= 0 {
		cfg.FileStorage = 128 << 20
	}
	key := cfg.SigningKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("simulator: generate signing key: %w", err)
		}
	}
	s := &Service{
		cfg:           cfg,
		log:           cfg.Logger,
		outbox:        outboxSize,
		writeTimeout:  writeTimeout,
		tokens:        &tokenIssuer{key: key, account: cfg.Account, now: cfg.Now},
		sockets:       map[*socket]struct{}{},
		sessions:      map[string]*agentSession{},
		consumers:     map[string]*consumerRec{},
		conversations: map[string]*conversation{},
		dialogs:       map[string]*dialog{},
		convSubs:      map[string]map[*convSub]struct{}{},
		rings:         map[string]*ring{},
		byUser:        lockout.New(cfg.LoginLimits.PerUser, cfg.Now),
		byAddr:        lockout.New(cfg.LoginLimits.PerAddr, cfg.Now),
		files:         newFileStore(cfg.FileStorage, cfg.FileURLTTL, cfg.Now),
	}
	if err := checkRouting(&cfg); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	seen := map[string]bool{}
	for _, a := range cfg.Agents {
		if a.Name == "" {
			return nil, errors.New("simulator: agent without a name")
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("simulator: agent %q configured twice", a.Name)
		}
		seen[a.Name] = true
		userID := numericUserID(cfg.Account, a.Name)
		s.agents = append(s.agents, &agentAccount{
			name:         a.Name,
			nameHash:     sha256.Sum256([]byte(a.Name)),
			passwordHash: sha256.Sum256([]byte(a.Password)),
			userID:       userID,
			oldID:        cfg.Account + "." + userID,
			pid:          cfg.NewID(),
			skills:       slices.Clone(a.Skills),
			availability: "OFFLINE",
			sockets:      map[*socket]struct{}{},
		})
	}
	s.mux = s.routes()
	return s, nil
}

// numericUserID derives a stable numeric user id from the agent's name, so
// that an agent keeps its old id across restarts of the service.
func numericUserID(account, name string) string {
	h := fnv.New64a()
	h.Write([]byte(account + "\x00" + name))
	return fmt.Sprintf("%d", 1_000_000_000+h.Sum64()%9_000_000_000)
}

// ServeHTTP serves every path of docs/protocol.md for the configured account.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close closes every socket with StatusGoingAway, stops every ring timer and
// waits until every socket goroutine has ended. It is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for c := range s.sockets {
			c.kill(statusGoingAway, "service closing")
		}
		for _, r := range s.rings {
			r.stop()
		}
		s.surveys.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// DialogEvents returns a copy of a dialog's stored events as the consumer
// socket shows them (nil for an unknown dialog). Tests use it to count
// receipts at the service.
func (s *Service) DialogEvents(dialogID string) []protocol.MessagingEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dialogs[dialogID]
	if d == nil {
		return nil
	}
	out := make([]protocol.MessagingEvent, 0, len(d.events))
	for _, e := range d.events {
		out = append(out, e.consumerView())
	}
	return out
}

// Agents describes the configured agents and their ids.
func (s *Service) Agents() []AgentInfo {
	out := make([]AgentInfo, 0, len(s.agents))
	for _, a := range s.agents {
		out = append(out, AgentInfo{Name: a.name, UserID: a.userID, OldID: a.oldID, PID: a.pid})
	}
	return out
}

// now is the service clock in epoch milliseconds.
func (s *Service) now() int64 { return s.cfg.Now().UnixMilli() }

// newUUID returns a random UUID v4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomToken returns an unguessable hex string for bearers and csrf tokens.
func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b[:])
}

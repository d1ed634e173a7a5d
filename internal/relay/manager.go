// Package relay holds a browser session's live state: its one upstream
// consumer connection, the conversation, the receipt policy and the tabs
// that show it. Every event is rendered once and fanned out to every tab;
// every tab's report goes through the receipt policy before anything is
// published (docs/architecture.md, Live sessions and Where each receipt
// rule lives).
package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Renderer turns the session's state into what a tab's socket sends: the
// whole live window (for a tab that just attached, or after a reset) and
// the fragments of one change. It is called from the session's goroutine
// only, once per change whatever the number of tabs.
type Renderer interface {
	Window(v View) ([]byte, error)
	Change(v View, ch Change) ([]byte, error)
}

// View is what the window shows.
type View struct {
	Connection messaging.State
	// SignIn: the service refused the customer's token and only their
	// page can sign them in again (Config.SignInByPage); the session waits
	// for it.
	SignIn    bool
	Phase     Phase
	AgentName string
	Typing    bool
	Rating    int
	// Messages is filled for Window, and for a Change that is a Reset.
	Messages []Message
	// Notice is a system message shown above the conversation, if any.
	Notice string
	// Queue is what the customer waiting for an agent is told.
	Queue Queue
	// UI is the language the window speaks (Visit.UI of the last tab).
	UI string
}

// Config configures the sessions of one server node.
type Config struct {
	Logger *slog.Logger
	// Consumer builds the upstream connection of a session whose token is
	// the one given (its TokenSource decides what happens when that token
	// is refused). tap records the session's frames for its protocol
	// inspector: pass it as the connection's messaging Tap.
	Consumer func(token string, tap func(out bool, data []byte)) (Upstream, error)
	// Connect, if set, builds the upstream of a session of identity id
	// instead of Consumer, with the session's own token source (pass
	// tokens as the connection's messaging Token): id's token first, then
	// the renewals of Renew or, with SignInByPage, of the customer's page
	// (identity.go; docs/protocol.md, Identity).
	Connect func(id Identity, tokens messaging.TokenSource, tap func(out bool, data []byte)) (Upstream, error)
	// Renew gives a session of Connect whose token the service refused a
	// fresh identity: the same consumer when its identity can be extended
	// (the connector's id_token), else a new one (a demo signup; the
	// window then starts afresh and says why). Nil: the same token again.
	Renew func(ctx context.Context, id Identity) (Identity, error)
	// SignInByPage: only the customer's page can renew a session's
	// identity (an authenticated customer: the brand signs them in). A
	// session whose token was refused asks its tabs (View.SignIn) and
	// waits for the token of their answer (Manager.SignIn).
	SignInByPage bool
	Renderer     Renderer
	// Grace, FlushWindow, TabBuffer and MaxTabs: see live.Config. A session
	// keeps its upstream for Grace after its last tab left, so that a
	// reload reuses it.
	Grace       time.Duration
	FlushWindow time.Duration
	TabBuffer   int
	MaxTabs     int
	// TypingTimeout ends the agent's typing indicator when no other state
	// came (the agent's tab may have died mid-word).
	TypingTimeout time.Duration
	// Now is the clock for local message times.
	Now func() time.Time
	// Metrics, if any, counts sessions, tabs, upstream connects and
	// receipts, and measures receipt latency.
	Metrics *metrics.Metrics
	// Campaign, if any, is the campaignInfo of every conversation request
	// (LP_CAMPAIGN_ID, LP_ENGAGEMENT_ID).
	Campaign *protocol.CampaignInfo
	// ClientProperties, if any, are the client properties announced for a
	// browser's User-Agent (messaging.BrowserClientProperties).
	ClientProperties func(userAgent string) *protocol.Header
	// HTTPClient fetches shared files from the file storage (Download);
	// nil: http.DefaultClient.
	HTTPClient *http.Client
	// NoInspector keeps no frames for the QA protocol inspector: in
	// production a busy session would otherwise hold up to inspector.Frames
	// copies of its traffic, and every frame would be copied once more.
	NoInspector bool
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TypingTimeout == 0 {
		c.TypingTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) live() live.Config {
	return live.Config{Grace: c.Grace, FlushWindow: c.FlushWindow, TabBuffer: c.TabBuffer, MaxTabs: c.MaxTabs, Metrics: c.Metrics}
}

// Upstream is what a session needs of its consumer connection
// (*messaging.Consumer provides it).
type Upstream interface {
	Run(ctx context.Context) error
	Updates() <-chan messaging.Update
	Token() string
	SubscribeConversations(ctx context.Context, filter protocol.SubscribeExConversations) error
	RequestConversation(ctx context.Context, req protocol.ConsumerRequestConversation) (string, error)
	Follow(ctx context.Context, dialogID, conversationID string, fromSeq int64) error
	Publish(ctx context.Context, dialogID, conversationID string, ev protocol.Event) (int64, error)
	// PublishWithMetadata carries the request's metadata: the answer to
	// structured content (docs/richcontent.md).
	PublishWithMetadata(ctx context.Context, dialogID, conversationID string, ev protocol.Event, metadata json.RawMessage) (int64, error)
	CloseConversation(ctx context.Context, conversationID string) error
	// EndConversation closes every dialog at once, with no survey;
	// CloseDialog closes one dialog (a survey's).
	EndConversation(ctx context.Context, conversationID string) error
	CloseDialog(ctx context.Context, conversationID, dialogID, cause string) error
	RateCSAT(ctx context.Context, conversationID string, rate int, resolved bool, status string) error
	GetUserProfile(ctx context.Context, userID string) (protocol.UserProfile, error)
	Sync(ctx context.Context) error
	// GenerateDownloadURL asks for a signed URL of a shared file
	// (docs/protocol.md, Files).
	GenerateDownloadURL(ctx context.Context, relativePath string) (messaging.StorageURL, error)
	// GenerateUploadURL asks for a signed URL to upload a customer's
	// file of size bytes and fileType (upload.go).
	GenerateUploadURL(ctx context.Context, size int64, fileType string) (messaging.StorageURL, error)
}

// Manager holds this node's sessions by session id.
type Manager struct {
	cfg      Config
	sessions *live.Registry[Session]
}

// NewManager returns a manager whose sessions live until ctx ends.
func NewManager(ctx context.Context, cfg Config) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, sessions: live.NewRegistry[Session](ctx)}
}

// ErrTooManyTabs refuses a page (a tab or an inspector) to a session that
// has MaxTabs already.
var ErrTooManyTabs = live.ErrTooManyTabs

// session returns the running session of id, starting it (and its
// upstream) when there is none.
func (m *Manager) session(id Identity) (*Session, error) {
	return m.sessions.Ensure(id.SessionID, func() (*Session, error) { return m.start(id) })
}

// Attach adds a tab to the session of id, starting the session (and its
// upstream connection) if it is not running.
func (m *Manager) Attach(id Identity) (*Tab, error) { return m.AttachVisit(id, Visit{}) }

// Token returns the token a running session's upstream uses now: not the
// cookie's any more when the service refused that one and a fresh one was
// obtained (the web layer then updates the cookie, so that the next session
// starts as the same consumer).
func (m *Manager) Token(sessionID string) (string, bool) {
	s, ok := m.sessions.Get(sessionID)
	if !ok {
		return "", false
	}
	tok := s.up.Token()
	return tok, tok != ""
}

// Identity returns a running session's identity now (see Token): with the
// connector's id_token that renewed it, for the cookie.
func (m *Manager) Identity(sessionID string) (Identity, bool) {
	s, ok := m.sessions.Get(sessionID)
	if !ok {
		return Identity{}, false
	}
	id := s.identity()
	if tok := s.up.Token(); tok != "" {
		id.Token = tok
	}
	return id, id.Token != ""
}

// View returns the window of a running session, for a page load.
func (m *Manager) View(sessionID string) (View, bool) {
	s, ok := m.sessions.Get(sessionID)
	if !ok {
		return View{}, false
	}
	return live.Ask(s.loop, func(reply chan<- View) any { return viewCmd{reply} })
}

// Sessions is the number of live sessions.
func (m *Manager) Sessions() int { return m.sessions.Len() }

// Wait blocks until every session has ended (after the manager's ctx).
func (m *Manager) Wait() {
	m.cfg.Logger.Debug("relay: waiting for the sessions to end", "sessions", m.sessions.Len())
	m.sessions.Wait()
}

// Ready reports whether the manager takes new sessions: not once Shutdown
// began or its context ended.
func (m *Manager) Ready() error {
	if err := m.sessions.Ready(); err != nil {
		return fmt.Errorf("not taking sessions: %w", err)
	}
	return nil
}

// Shutdown stops taking tabs, has every session publish what it has due
// (receipts, and requests queued before them) and end, letting its tabs go.
// It returns when all sessions ended, or with ctx's error when ctx ended
// first (sessions whose upstream is down cannot flush; the caller then
// cancels the manager's context).
func (m *Manager) Shutdown(ctx context.Context) error {
	sessions := m.sessions.Drain()
	for _, s := range sessions {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		s.loop.Do(drainCmd{})
	}
	for _, s := range sessions {
		select {
		case <-s.loop.Ended():
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %w", ctx.Err())
		}
	}
	return nil
}

// start starts the session of id: its upstream, its sender and its loop
// run until the session's context ends (grace expired, End, or the
// manager stopped); then it leaves the manager.
func (m *Manager) start(id Identity) (*Session, error) { return m.startWith(id, nil) }

// startWith is start with the client properties its upstream announces
// (nil: the upstream's own).
func (m *Manager) startWith(id Identity, props *protocol.Header) (*Session, error) {
	self, err := messaging.Subject(id.Token)
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	var insp *inspector.Inspector
	var tap func(out bool, data []byte)
	if !m.cfg.NoInspector {
		insp = inspector.New(m.cfg.Now, inspector.Frames, inspector.Bytes)
		tap = insp.Tap
	}
	s := &Session{
		cfg:      m.cfg,
		log:      m.cfg.Logger.With("session_id", shortID(id.SessionID), "consumer_id", self),
		id:       id.SessionID,
		insp:     insp,
		self:     self,
		conv:     NewConversation(self),
		tracker:  receipts.New(self),
		conn:     messaging.StateConnecting,
		unsure:   map[string]doubt{},
		ident:    id,
		signedIn: make(chan string, 1),
	}
	var up Upstream
	if m.cfg.Connect != nil {
		up, err = m.cfg.Connect(id, s.token, tap)
	} else {
		up, err = m.cfg.Consumer(id.Token, tap)
	}
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	s.up = up
	if cp, ok := up.(clientPropertiesSetter); ok && props != nil {
		cp.SetClientProperties(props)
	}
	ctx, cancel := context.WithCancel(m.sessions.Context())
	s.loop = live.New[struct{}](m.cfg.live(), s.log, cancel)
	m.cfg.Metrics.SessionStarted()
	m.sessions.Go(func() {
		if err := up.Run(ctx); err != nil {
			s.log.Warn("upstream ended", "error", err)
		}
	})
	s.loop.Start(ctx)
	m.sessions.Go(func() {
		s.loop.Run(ctx, up.Updates(), s)
		s.loop.Ops.Wait()
		m.cfg.Metrics.SessionEnded()
		m.sessions.Remove(s.id, s)
	})
	s.loop.Ops.Push(func(ctx context.Context) func() {
		err := up.SubscribeConversations(ctx, protocol.SubscribeExConversations{})
		return func() {
			if err != nil {
				s.log.Warn("subscribe conversations", "error", err)
			}
		}
	})
	return s, nil
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Package desks is the agent console's live state: a Desk per signed-in
// agent browser session, holding the agent's one messaging connection
// (messaging.Agent, the same client package the chat window uses: no back
// door into the service), its rings, its conversations with the V states
// of the agent's messages, and the console tabs that show them. It is the
// agent-side counterpart of internal/relay, built on the same kit
// (internal/live): one loop goroutine owns the state, requests go out in
// order on a sender goroutine, every change is rendered once per selected
// conversation and fanned out to the tabs, and the tabs' reports go through
// the receipt policy (receipts.Tracker, with the agent as self) before any
// ACCEPT or READ is published.
package desks

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Errors of SignIn and Attach.
var (
	// ErrBadCredentials: the service refused the name or password.
	ErrBadCredentials = errors.New("wrong name or password")
	// ErrLockedOut: the service locked the login out after too many
	// failures (429); the error wraps the *messaging.StatusError, whose
	// RetryAfter says for how long.
	ErrLockedOut = errors.New("too many failed logins")
	// ErrUnavailable: the service could not be reached in time.
	ErrUnavailable = errors.New("the messaging service is not reachable")
	// ErrNoDesk: no desk with that id runs on this node (signed out,
	// expired, or the server restarted).
	ErrNoDesk = errors.New("no such desk")
)

// Renderer turns a desk's state into what a tab's socket sends: the whole
// live desk (a tab that just attached or changed conversation) and the
// fragments of one change. It is called from the desk's loop only, once
// per change and selected conversation, whatever the number of tabs.
type Renderer interface {
	Desk(v View) ([]byte, error)
	Change(v View, ch Change) ([]byte, error)
	// SignedOut is sent to a tab whose desk was signed out.
	SignedOut() ([]byte, error)
}

// View is what a console tab shows.
type View struct {
	AgentName     string
	Connection    messaging.State
	Rings         []Ring
	Conversations []Summary
	// Selected is the tab's open conversation; nil for none.
	Selected *Pane
	// Skills are the skills its conversation may be transferred to.
	Skills []string
}

// Summary is a conversation's entry in the list.
type Summary struct {
	ID           string
	ConsumerName string
	Last         Message
	HasLast      bool
	Unread       int
	Closed       bool
	Selected     bool
}

// Pane is the selected conversation.
type Pane struct {
	ID             string
	ConsumerName   string
	Closed         bool
	ConsumerTyping bool
	// Profile and Customer are the customer's details (the Customer
	// panel).
	Profile  ProfileState
	Customer Customer
	// Messages is filled for Desk only.
	Messages []Message
}

// Change is what changed, for a tab whose selected conversation is
// View.Selected: the thread part is only set when it concerns it.
type Change struct {
	Connection, Rings, List bool
	Thread                  ThreadChange
	Announce                string
}

func (c Change) empty() bool {
	return !c.Connection && !c.Rings && !c.List && c.Thread.Empty() && c.Announce == ""
}

// Upstream is what a desk needs of the agent's connection
// (*messaging.Agent provides it).
type Upstream interface {
	Run(ctx context.Context) error
	Updates() <-chan messaging.Update
	PID() string
	OldID() string
	SetAgentState(ctx context.Context, availability string) error
	SubscribeRoutingTasks(ctx context.Context) error
	SubscribeConversations(ctx context.Context, filter protocol.SubscribeExConversations) error
	AcceptRing(ctx context.Context, ringID string) error
	RejectRing(ctx context.Context, ringID string) error
	Follow(ctx context.Context, dialogID string, fromSeq int64) error
	Publish(ctx context.Context, dialogID string, ev protocol.Event) (int64, error)
	CloseConversation(ctx context.Context, conversationID string) error
	GetUserProfile(ctx context.Context, consumerID string) (protocol.UserProfile, error)
	Sync(ctx context.Context) error
	TransferToSkill(ctx context.Context, conversationID, skillID string) error
	BackToQueue(ctx context.Context, conversationID string) error
	// GenerateUploadURL and GenerateDownloadURL ask for signed URLs of
	// the file storage (files.go).
	GenerateUploadURL(ctx context.Context, size int64, fileType string) (messaging.StorageURL, error)
	GenerateDownloadURL(ctx context.Context, relativePath string) (messaging.StorageURL, error)
}

var _ Upstream = (*messaging.Agent)(nil)

// Config configures the desks of one server node.
type Config struct {
	Logger *slog.Logger
	// Agent builds the connection of an agent signing in; the password
	// lives in it (in memory) and nowhere else.
	Agent    func(ctx context.Context, username, password string) (Upstream, error)
	Renderer Renderer
	// Grace, FlushWindow, TabBuffer and MaxTabs: see live.Config. A desk
	// stays signed in for Grace after its last tab left (and before the
	// first attaches), so that a reload reuses it.
	Grace       time.Duration
	FlushWindow time.Duration
	TabBuffer   int
	MaxTabs     int
	// SignInTimeout bounds SignIn's wait for the first connection.
	SignInTimeout time.Duration
	// TypingTimeout ends the consumer typing indicator when no other state
	// came.
	TypingTimeout time.Duration
	// Now is the clock for local message times.
	Now func() time.Time
	// Skills are the skill ids an agent may transfer a conversation to.
	Skills []string
	// HTTPClient reaches the file storage (files.go); nil:
	// http.DefaultClient.
	HTTPClient *http.Client
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SignInTimeout == 0 {
		c.SignInTimeout = 15 * time.Second
	}
	if c.TypingTimeout == 0 {
		c.TypingTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) live() live.Config {
	return live.Config{Grace: c.Grace, FlushWindow: c.FlushWindow, TabBuffer: c.TabBuffer, MaxTabs: c.MaxTabs}
}

// Manager holds this node's desks by id.
type Manager struct {
	cfg   Config
	desks *live.Registry[Desk]
}

// NewManager returns a manager whose desks live until ctx ends.
func NewManager(ctx context.Context, cfg Config) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, desks: live.NewRegistry[Desk](ctx)}
}

// SignIn logs the agent in and starts its desk once its connection is
// open: it returns the desk's id, ErrBadCredentials when the service
// refused the login, ErrLockedOut when it locked it out, or ErrUnavailable
// when it could not connect in time.
func (m *Manager) SignIn(ctx context.Context, username, password string) (string, error) {
	if err := m.desks.Ready(); err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	up, err := m.cfg.Agent(ctx, username, password)
	if err != nil {
		return "", fmt.Errorf("sign in %s: %w", username, err)
	}
	d := m.start(username, up)
	timer := time.NewTimer(m.cfg.SignInTimeout)
	defer timer.Stop()
	select {
	case err = <-d.ready:
	case <-timer.C:
		err = ErrUnavailable
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		err = m.desks.Add(d.id, d)
	}
	if err != nil {
		d.cancel()
		return "", fmt.Errorf("sign in %s: %w", username, err)
	}
	return d.id, nil
}

// SignOut ends a desk: the agent's connection closes and its tabs are
// told. The desk leaves the manager now, not once its loop has ended: a
// tab that attaches meanwhile gets ErrNoDesk rather than a desk that is
// ending.
func (m *Manager) SignOut(deskID string) {
	if d, ok := m.desks.Take(deskID); ok {
		d.signOut()
	}
}

// Attach adds a tab to a running desk.
func (m *Manager) Attach(deskID string) (*Tab, error) {
	d, ok := m.desks.Get(deskID)
	if !ok {
		return nil, ErrNoDesk
	}
	t, err := d.loop.Attach(page{})
	if err != nil {
		return nil, ErrNoDesk
	}
	return &Tab{t}, nil
}

// View returns a running desk's view with nothing selected, for a page
// load.
func (m *Manager) View(deskID string) (View, bool) {
	d, ok := m.desks.Get(deskID)
	if !ok {
		return View{}, false
	}
	return live.Ask(d.loop, func(reply chan<- View) any { return viewCmd{reply} })
}

// Desks is the number of running desks.
func (m *Manager) Desks() int { return m.desks.Len() }

// Wait blocks until every desk has ended (after the manager's ctx).
func (m *Manager) Wait() { m.desks.Wait() }

// start starts a desk for the agent's connection up: the connection, the
// sender and the loop run until the desk's context ends (signed out,
// grace expired, sign-in failed, or the manager stopped).
func (m *Manager) start(username string, up Upstream) *Desk {
	ctx, cancel := context.WithCancel(m.desks.Context())
	d := &Desk{
		cfg:      m.cfg,
		id:       rand.Text(),
		name:     username,
		up:       up,
		inbox:    NewInbox(Self{}),
		ready:    make(chan error, 1),
		cancel:   cancel,
		conn:     messaging.StateConnecting,
		followed: map[string]bool{},
		early:    map[string][]protocol.MessagingEvent{},
		typing:   map[string]time.Time{},
		composed: map[string]time.Time{},
	}
	d.log = m.cfg.Logger.With("desk", d.id[:8], "agent", username)
	d.loop = live.New[page](m.cfg.live(), d.log, cancel)
	// Remembered by the client and applied on every connection, in order
	// (state, rings, conversations): without a socket yet, these return at
	// once. The whole brand's open conversations: the desk shows those
	// that name the agent ASSIGNED_AGENT (its ids are not known before
	// login).
	for _, f := range []func(context.Context) error{
		func(ctx context.Context) error { return up.SetAgentState(ctx, protocol.AgentOnline) },
		up.SubscribeRoutingTasks,
		func(ctx context.Context) error {
			return up.SubscribeConversations(ctx, protocol.SubscribeExConversations{ConvState: protocol.Strings{protocol.StateOpen}})
		},
	} {
		if err := f(ctx); err != nil {
			d.log.Warn("desk setup", "error", err)
		}
	}
	m.desks.Go(func() {
		if err := up.Run(ctx); err != nil {
			d.log.Info("agent connection ended", "error", err)
		}
	})
	d.loop.Start(ctx)
	m.desks.Go(func() {
		d.loop.Run(ctx, up.Updates(), d)
		d.loop.Ops.Wait()
		m.desks.Remove(d.id, d)
	})
	return d
}

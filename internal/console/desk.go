// Package console is the agent console's live state: a Desk per signed-in
// agent browser session, holding the agent's one messaging connection
// (messaging.Agent, the same client package the chat window uses: no back
// door into the service), its rings, its conversations with the V states
// of the agent's messages, and the console tabs that show them. It is the
// agent-side counterpart of internal/relay: one loop goroutine owns the
// state, requests go out in order on a sender goroutine, every change is
// rendered once per selected conversation and fanned out to the tabs, and
// the tabs' reports go through the receipt policy (receipts.Tracker, with
// the agent as self) before any ACCEPT or READ is published.
package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/sender"
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
	Connection    string // connecting, open, reconnecting, offline
	Rings         []Ring
	Conversations []Summary
	// Selected is the tab's open conversation; nil for none.
	Selected *Pane
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
	Follow(ctx context.Context, dialogID string, fromSeq int64) error
	Publish(ctx context.Context, dialogID string, ev protocol.Event) (int64, error)
	CloseConversation(ctx context.Context, conversationID string) error
	GetUserProfile(ctx context.Context, consumerID string) (protocol.UserProfile, error)
	Sync(ctx context.Context) error
}

var _ Upstream = (*messaging.Agent)(nil)

// Config configures the desks of one server node.
type Config struct {
	Logger *slog.Logger
	// Agent builds the connection of an agent signing in; the password
	// lives in it (in memory) and nowhere else.
	Agent    func(ctx context.Context, username, password string) (Upstream, error)
	Renderer Renderer
	// Grace is how long a desk stays signed in after its last tab left
	// (and before the first attaches), so that a reload reuses it.
	Grace time.Duration
	// SignInTimeout bounds SignIn's wait for the first connection.
	SignInTimeout time.Duration
	// FlushWindow batches receipts (design.md §3 rule 4).
	FlushWindow time.Duration
	// TypingTimeout ends the consumer typing indicator when no other state
	// came.
	TypingTimeout time.Duration
	// TabBuffer bounds each tab's outbox; a slower tab is dropped.
	TabBuffer int
	// MaxTabs bounds a desk's tabs; one more is refused (TooMany).
	MaxTabs int
	// Now is the clock for local message times.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if c.SignInTimeout == 0 {
		c.SignInTimeout = 15 * time.Second
	}
	if c.FlushWindow == 0 {
		c.FlushWindow = 50 * time.Millisecond
	}
	if c.TypingTimeout == 0 {
		c.TypingTimeout = 10 * time.Second
	}
	if c.TabBuffer == 0 {
		c.TabBuffer = 128
	}
	if c.MaxTabs == 0 {
		c.MaxTabs = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Manager holds this node's desks by id.
type Manager struct {
	cfg Config
	ctx context.Context

	mu    sync.Mutex
	desks map[string]*Desk
	wg    sync.WaitGroup
}

// NewManager returns a manager whose desks live until ctx ends.
func NewManager(ctx context.Context, cfg Config) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, ctx: ctx, desks: map[string]*Desk{}}
}

// SignIn logs the agent in and starts its desk once its connection is
// open: it returns the desk's id, ErrBadCredentials when the service
// refused the login, ErrLockedOut when it locked it out, or ErrUnavailable
// when it could not connect in time.
func (m *Manager) SignIn(ctx context.Context, username, password string) (string, error) {
	if err := m.ctx.Err(); err != nil {
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
	if err != nil {
		d.cancel()
		return "", fmt.Errorf("sign in %s: %w", username, err)
	}
	m.mu.Lock()
	m.desks[d.id] = d
	m.mu.Unlock()
	return d.id, nil
}

// SignOut ends a desk: the agent's connection closes and its tabs are told.
func (m *Manager) SignOut(deskID string) {
	// The desk leaves the manager now, not once its loop has ended: a tab
	// that attaches meanwhile would otherwise be queued to a desk that
	// never serves it.
	m.mu.Lock()
	d, ok := m.desks[deskID]
	delete(m.desks, deskID)
	m.mu.Unlock()
	if ok {
		d.signOut()
	}
}

func (m *Manager) desk(id string) (*Desk, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.desks[id]
	return d, ok
}

// Attach adds a tab to a running desk.
func (m *Manager) Attach(deskID string) (*Tab, error) {
	d, ok := m.desk(deskID)
	if !ok {
		return nil, ErrNoDesk
	}
	t := &Tab{Outbox: outbox.New(m.cfg.TabBuffer), d: d}
	select {
	case d.cmds <- attachCmd{t}:
	case <-d.ended:
		return nil, ErrNoDesk
	}
	return t, nil
}

// View returns a running desk's view with nothing selected, for a page
// load.
func (m *Manager) View(deskID string) (View, bool) {
	d, ok := m.desk(deskID)
	if !ok {
		return View{}, false
	}
	reply := make(chan View, 1)
	select {
	case d.cmds <- viewCmd{reply}:
	case <-d.ended:
		return View{}, false
	}
	select {
	case v := <-reply:
		return v, true
	case <-d.ended:
		return View{}, false
	}
}

// Desks is the number of running desks.
func (m *Manager) Desks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.desks)
}

// Wait blocks until every desk has ended (after the manager's ctx).
func (m *Manager) Wait() { m.wg.Wait() }

func (m *Manager) start(username string, up Upstream) *Desk {
	ctx, cancel := context.WithCancel(m.ctx)
	d := &Desk{
		cfg:      m.cfg,
		id:       rand.Text(),
		name:     username,
		up:       up,
		inbox:    NewInbox(Self{}),
		tabs:     map[*Tab]struct{}{},
		cmds:     make(chan any, 64),
		results:  make(chan func(), 64),
		ready:    make(chan error, 1),
		ended:    make(chan struct{}),
		cancel:   cancel,
		conn:     messaging.StateConnecting.String(),
		ops:      sender.New(),
		followed: map[string]bool{},
		early:    map[string][]protocol.MessagingEvent{},
		typing:   map[string]time.Time{},
		composed: map[string]time.Time{},
	}
	d.log = m.cfg.Logger.With("desk", d.id[:8], "agent", username)
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
	m.wg.Add(2)
	// The connection runs until the desk's ctx ends (signed out, grace
	// expired, sign-in failed, or the manager stopped).
	go func() {
		defer m.wg.Done()
		if err := up.Run(ctx); err != nil {
			d.log.Info("agent connection ended", "error", err)
		}
	}()
	// The sender runs the desk's requests one at a time, on a goroutine
	// that lives while one is due, until ctx ends.
	d.ops.Start(ctx, d.results)
	// The loop owns the desk's state until ctx ends; then it leaves the
	// manager.
	go func() {
		defer m.wg.Done()
		d.loop(ctx)
		d.ops.Wait()
		m.mu.Lock()
		if m.desks[d.id] == d {
			delete(m.desks, d.id)
		}
		m.mu.Unlock()
	}()
	return d
}

// Desk is one signed-in agent browser session. Its fields are owned by its
// loop goroutine.
type Desk struct {
	cfg     Config
	log     *slog.Logger
	id      string
	name    string
	up      Upstream
	inbox   *Inbox
	tracker *receipts.Tracker // nil until the agent's ids are known
	// refusals limits the log lines of refused reports (made on the first).
	refusals *ratelog.Limiter
	tabs     map[*Tab]struct{}
	cmds     chan any
	results  chan func()
	ops      *sender.Queue
	ready    chan error // SignIn's answer: nil once open, or why not
	readied  bool
	ended    chan struct{}
	cancel   context.CancelFunc

	conn        string
	wasOpen     bool
	syncing     bool
	flushArmed  bool
	flushTimer  *time.Timer
	typingTimer *time.Timer
	graceTimer  *time.Timer
	followed    map[string]bool
	// early holds events of dialogs not (yet) known as the agent's, until
	// the conversation's metadata says they are.
	early     map[string][]protocol.MessagingEvent
	typing    map[string]time.Time // conversation → when its typing indicator ends
	composed  map[string]time.Time // conversation → last COMPOSING published
	nextLocal int
}

// maxEarly bounds the events held for dialogs not yet known.
const maxEarly = 1000

// Tab is one console tab's attachment to its desk: its outbox (Out, Done,
// Reason) and the actions it passes to the desk.
type Tab struct {
	*outbox.Outbox
	d *Desk
	// selected is the tab's open conversation (owned by the desk's loop).
	selected string
}

func (t *Tab) cmd(c any) {
	select {
	case t.d.cmds <- c:
	case <-t.d.ended:
	case <-t.Done():
	}
}

// Detach removes the tab.
func (t *Tab) Detach() { t.cmd(detachCmd{t}) }

// Accept answers a ring: the agent joins the conversation, which this tab
// then shows.
func (t *Tab) Accept(ringID string) { t.cmd(acceptCmd{t, ringID}) }

// Open shows a conversation in this tab.
func (t *Tab) Open(conversationID string) { t.cmd(openCmd{t, conversationID}) }

// Send publishes the agent's text to a conversation (the tab's own when
// conversationID is empty).
func (t *Tab) Send(conversationID, text string) { t.cmd(sendCmd{t, conversationID, text}) }

// Typing publishes the agent's chat state to the tab's conversation.
func (t *Tab) Typing(state string) { t.cmd(typingCmd{t, state}) }

// Report records what the tab did with consumer messages: "delivered"
// (inserted into the page) or "seen" (read by the agent).
func (t *Tab) Report(status string, items []Item) { t.cmd(reportCmd{status, items}) }

// Close closes a conversation (the tab's own when conversationID is empty).
func (t *Tab) Close(conversationID string) { t.cmd(closeCmd{t, conversationID}) }

// SignOut ends the desk.
func (t *Tab) SignOut() { t.d.signOut() }

// Item is one message a tab reports on.
type Item struct {
	DialogID string `json:"dialogId"`
	Seq      int64  `json:"seq"`
}

type (
	viewCmd   struct{ reply chan View }
	attachCmd struct{ t *Tab }
	detachCmd struct{ t *Tab }
	acceptCmd struct {
		t      *Tab
		ringID string
	}
	openCmd struct {
		t    *Tab
		conv string
	}
	sendCmd struct {
		t          *Tab
		conv, text string
	}
	typingCmd struct {
		t     *Tab
		state string
	}
	reportCmd struct {
		status string
		items  []Item
	}
	closeCmd struct {
		t    *Tab
		conv string
	}
	signOutCmd struct{}
)

func (d *Desk) signOut() {
	select {
	case d.cmds <- signOutCmd{}:
	case <-d.ended:
	}
}

// view is the desk as a tab whose conversation is selected shows it.
func (d *Desk) view(selected string, withMessages bool) View {
	v := View{AgentName: d.name, Connection: d.conn, Rings: d.inbox.Rings()}
	for _, t := range d.inbox.Threads() {
		s := Summary{ID: t.ID, ConsumerName: t.ConsumerName, Unread: t.Unread(), Closed: t.Closed, Selected: t.ID == selected}
		s.Last, s.HasLast = t.Last()
		v.Conversations = append(v.Conversations, s)
	}
	if t, ok := d.inbox.Thread(selected); ok {
		p := &Pane{ID: t.ID, ConsumerName: t.ConsumerName, Closed: t.Closed, ConsumerTyping: t.ConsumerTyping}
		if withMessages {
			p.Messages = t.Messages()
		}
		v.Selected = p
	}
	return v
}

// loop is the desk's one goroutine of state. It ends with ctx.
func (d *Desk) loop(ctx context.Context) {
	defer close(d.ended)
	defer func() {
		for t := range d.tabs {
			t.End(outbox.Detached)
		}
	}()
	flush := make(chan struct{}, 1)
	typingDone := make(chan struct{}, 1)
	graceDone := make(chan struct{}, 1)
	d.flushTimer = time.AfterFunc(time.Hour, func() { signal(flush) })
	d.flushTimer.Stop()
	d.typingTimer = time.AfterFunc(time.Hour, func() { signal(typingDone) })
	d.typingTimer.Stop()
	d.graceTimer = time.AfterFunc(d.cfg.Grace, func() { signal(graceDone) })
	defer d.flushTimer.Stop()
	defer d.typingTimer.Stop()
	defer d.graceTimer.Stop()
	updates := d.up.Updates()
	for {
		select {
		case <-ctx.Done():
			d.setReady(ErrUnavailable)
			return
		case u, ok := <-updates:
			if !ok {
				updates = nil
				d.setReady(ErrUnavailable)
				d.setConn(messaging.StateOffline.String())
				continue
			}
			d.upstream(u)
		case c := <-d.cmds:
			if _, out := c.(signOutCmd); out {
				d.log.Info("signed out")
				d.signedOut()
				d.cancel()
				return
			}
			d.command(c)
		case done := <-d.results:
			done()
		case <-flush:
			d.flushArmed = false
			d.flushReceipts()
		case <-typingDone:
			d.expireTyping()
		case <-graceDone:
			if len(d.tabs) == 0 {
				d.log.Info("desk ended after its grace period")
				d.cancel()
				return
			}
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// setReady answers SignIn once.
func (d *Desk) setReady(err error) {
	if d.readied {
		return
	}
	d.readied = true
	d.ready <- err
}

// ensureSelf learns the agent's ids, known once it has logged in (before
// any notification is delivered).
func (d *Desk) ensureSelf() {
	if d.tracker != nil {
		return
	}
	pid := d.up.PID()
	if pid == "" {
		return
	}
	d.inbox.SetSelf(Self{PID: pid, OldID: d.up.OldID()})
	d.tracker = receipts.New(pid)
}

func (d *Desk) upstream(u messaging.Update) {
	d.ensureSelf()
	switch u := u.(type) {
	case messaging.StateChange:
		d.ops.SetOpen(u.State == messaging.StateOpen)
		switch {
		case u.State == messaging.StateOpen:
			d.setReady(nil)
			if d.wasOpen && d.tracker != nil {
				// Reconnected: receipts in flight may or may not have
				// landed; hold them until the catch-up has shown which.
				d.tracker.Requeue()
				d.syncing = true
				d.ops.Push(func(ctx context.Context) func() {
					err := d.up.Sync(ctx)
					return func() {
						if err != nil {
							d.log.Debug("sync after reconnect", "error", err)
						}
					}
				})
			}
			d.wasOpen = true
		case u.State == messaging.StateOffline && u.Err != nil && !d.wasOpen:
			d.setReady(signInError(u.Err))
		case u.State == messaging.StateReconnecting && !d.wasOpen && errors.Is(signInError(u.Err), ErrLockedOut):
			// The client would retry the login until the lockout ends;
			// the person signing in is told now instead.
			d.setReady(signInError(u.Err))
		}
		d.setConn(u.State.String())
	case messaging.SyncUpdate:
		if d.syncing {
			d.syncing = false
			d.armFlush()
		}
	case messaging.RoutingUpdate:
		if d.inbox.ApplyRouting(u.Change) {
			d.broadcast("", Change{Rings: true})
		}
	case messaging.ConversationUpdate:
		d.conversation(u.Change)
	case messaging.EventUpdate:
		d.event(u.Event)
	}
}

// RetryAfter is how long an ErrLockedOut asks to wait before the next
// attempt (0 when the service did not say).
func RetryAfter(err error) time.Duration {
	var se *messaging.StatusError
	if errors.Is(err, ErrLockedOut) && errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// signInError tells the person signing in why the desk could not open: a
// refused login, a locked-out one, or a service that could not be reached.
// It answers what to say, not what to do next: messaging.Classify decided
// that already (the session gave up, or is still retrying a lockout).
func signInError(err error) error {
	var se *messaging.StatusError
	switch {
	case errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden):
		return ErrBadCredentials
	case errors.As(err, &se) && se.Op == "login" && se.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %w", ErrLockedOut, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (d *Desk) setConn(st string) {
	if st == d.conn {
		return
	}
	d.conn = st
	d.broadcast("", Change{Connection: true})
}

func (d *Desk) conversation(ch protocol.ConversationChange) {
	r := d.inbox.ApplyConversation(ch)
	if r.Thread == nil {
		if r.Rings {
			d.broadcast("", Change{Rings: true})
		}
		return
	}
	t := r.Thread
	if r.New {
		d.fetchConsumerName(t)
	}
	if _, still := d.inbox.Thread(t.ID); still {
		d.follow(t)
		if r.New {
			// A tab that accepted the ring shows it now.
			for tab := range d.tabs {
				if tab.selected == t.ID {
					d.sendDesk(tab)
				}
			}
		}
	} else {
		// No longer ours: tabs showing it show nothing.
		for tab := range d.tabs {
			if tab.selected == t.ID {
				tab.selected = ""
				d.sendDesk(tab)
			}
		}
	}
	if r.Change.Closed {
		delete(d.typing, t.ID)
	}
	d.broadcast(t.ID, Change{Rings: r.Rings, List: r.List, Thread: r.Change})
}

// follow follows every dialog of an assigned conversation (history, then
// live), and applies what arrived before the desk knew it was ours.
func (d *Desk) follow(t *Thread) {
	for _, id := range t.Dialogs {
		if d.followed[id] || t.Closed {
			continue
		}
		d.followed[id] = true
		if d.tracker != nil {
			d.tracker.Track(id)
		}
		for _, ev := range d.early[id] {
			d.event(ev)
		}
		delete(d.early, id)
		d.ops.Push(func(ctx context.Context) func() {
			err := d.up.Follow(ctx, id, 0)
			if sender.NotSent(err) {
				return nil
			}
			return func() {
				if err != nil {
					d.log.Warn("follow dialog", "dialog_id", id, "error", err)
				}
			}
		})
	}
}

func (d *Desk) fetchConsumerName(t *Thread) {
	id, consumer := t.ID, t.ConsumerID
	fallback := "Customer"
	if len(consumer) >= 4 {
		fallback = "Customer " + consumer[:4]
	}
	t.ConsumerName = fallback
	if consumer == "" {
		return
	}
	d.ops.Push(func(ctx context.Context) func() {
		p, err := d.up.GetUserProfile(ctx, consumer)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				d.log.Debug("consumer profile", "error", err)
				return
			}
			// The customer's profile is theirs to write: no direction
			// controls in the name the agent reads.
			name := strings.TrimSpace(bidi.Strip(p.FirstName + " " + p.LastName))
			t, ok := d.inbox.Thread(id)
			if name == "" || !ok {
				return
			}
			t.ConsumerName = name
			d.broadcast(id, Change{List: true, Thread: ThreadChange{Summary: true}})
			for tab := range d.tabs {
				if tab.selected == id {
					d.sendDesk(tab)
				}
			}
		}
	})
}

func (d *Desk) event(ev protocol.MessagingEvent) {
	t, ok := d.inbox.ThreadOf(ev.DialogID)
	if !ok || !d.followed[ev.DialogID] {
		if _, stored := ev.Seq(); stored && len(d.early[ev.DialogID]) < maxEarly {
			d.early[ev.DialogID] = append(d.early[ev.DialogID], ev)
		}
		return
	}
	if d.tracker != nil {
		d.tracker.Observe(ev)
	}
	ch := t.Apply(ev)
	if ev.Event.Type == protocol.EventChatState && t.ConsumerTyping {
		d.typing[t.ID] = time.Now().Add(d.cfg.TypingTimeout)
		d.armTyping()
	} else if ch.Typing && !t.ConsumerTyping {
		delete(d.typing, t.ID)
	}
	list := ch.Summary
	if len(ch.Added) > 0 && d.inbox.Touch(t.ID) {
		list = true
	}
	d.broadcast(t.ID, Change{List: list, Thread: ch})
}

func (d *Desk) armTyping() {
	var next time.Time
	for _, until := range d.typing {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if next.IsZero() {
		d.typingTimer.Stop()
		return
	}
	d.typingTimer.Reset(max(time.Until(next), 0))
}

func (d *Desk) expireTyping() {
	now := time.Now()
	for id, until := range d.typing {
		if until.After(now) {
			continue
		}
		delete(d.typing, id)
		if t, ok := d.inbox.Thread(id); ok {
			d.broadcast(id, Change{Thread: t.StopTyping()})
		}
	}
	d.armTyping()
}

func (d *Desk) command(c any) {
	switch c := c.(type) {
	case viewCmd:
		c.reply <- d.view("", true)
	case attachCmd:
		if len(d.tabs) >= d.cfg.MaxTabs {
			d.log.Warn("tab refused: the desk has enough", "tabs", len(d.tabs))
			c.t.End(outbox.TooMany)
			return
		}
		d.tabs[c.t] = struct{}{}
		d.graceTimer.Stop()
		d.sendDesk(c.t)
	case detachCmd:
		if _, ok := d.tabs[c.t]; ok {
			delete(d.tabs, c.t)
			c.t.End(outbox.Detached)
		}
		if len(d.tabs) == 0 {
			d.graceTimer.Reset(d.cfg.Grace)
		}
	case openCmd:
		if _, ok := d.inbox.Thread(c.conv); !ok || c.t.selected == c.conv {
			return
		}
		c.t.selected = c.conv
		d.sendDesk(c.t)
	case acceptCmd:
		d.accept(c.t, c.ringID)
	case sendCmd:
		d.send(c.t, c.conv, c.text)
	case typingCmd:
		d.typingState(c.t, c.state)
	case reportCmd:
		d.report(c.status, c.items)
	case closeCmd:
		d.closeConversation(c.t, c.conv)
	}
}

func (d *Desk) accept(tab *Tab, ringID string) {
	ring, ok := d.inbox.Ring(ringID)
	if !ok {
		return
	}
	d.ops.Push(func(ctx context.Context) func() {
		err := d.up.AcceptRing(ctx, ringID)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				d.log.Info("accept ring", "ring_id", ringID, "error", err)
				d.broadcast("", Change{Announce: "The conversation could not be accepted: another agent may have taken it."})
				return
			}
			if _, attached := d.tabs[tab]; attached {
				// The tab shows the conversation as soon as it is ours
				// (now, or when its metadata arrives).
				tab.selected = ring.ConversationID
				d.sendDesk(tab)
			}
		}
	})
}

// MaxText bounds an agent's message (the service refuses more than 8 KiB).
const MaxText = 8000

// target is the open conversation a tab acts on.
func (d *Desk) target(tab *Tab, conv string) (*Thread, bool) {
	if conv == "" {
		conv = tab.selected
	}
	t, ok := d.inbox.Thread(conv)
	if !ok || t.Closed {
		return nil, false
	}
	return t, true
}

func (d *Desk) send(tab *Tab, conv, text string) {
	// What goes out is what the agent's bubble shows, without direction
	// controls (relay.Conversation.Sending says why for the customer's).
	text = strings.TrimSpace(bidi.Strip(text))
	if text == "" {
		return
	}
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	if len(text) > MaxText {
		d.broadcast(t.ID, Change{Announce: "Your message is too long."})
		return
	}
	d.nextLocal++
	localID := fmt.Sprint(d.nextLocal)
	d.inbox.Touch(t.ID)
	d.broadcast(t.ID, Change{List: true, Thread: t.Sending(localID, text, d.cfg.Now())})
	delete(d.composed, t.ID)
	id := t.ID
	d.ops.Push(func(ctx context.Context) func() {
		seq, err := d.up.Publish(ctx, id, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			t, ok := d.inbox.Thread(id)
			if !ok {
				return
			}
			if err != nil {
				d.log.Info("publish text failed", "conversation_id", id, "error", err)
				d.broadcast(id, Change{Thread: t.Failed(localID)})
				return
			}
			d.broadcast(id, Change{Thread: t.Sent(localID, id, seq, d.cfg.Now())})
		}
	})
}

func (d *Desk) typingState(tab *Tab, state string) {
	switch state {
	case protocol.ChatComposing, protocol.ChatPause, protocol.ChatActive, protocol.ChatInactive:
	default:
		return
	}
	t, ok := d.target(tab, "")
	if !ok {
		return
	}
	now := d.cfg.Now()
	if state == protocol.ChatComposing {
		if now.Sub(d.composed[t.ID]) < 2*time.Second {
			return // throttled: the page repeats it every few seconds anyway
		}
		d.composed[t.ID] = now
	} else {
		delete(d.composed, t.ID)
	}
	id := t.ID
	d.ops.Push(func(ctx context.Context) func() {
		_, err := d.up.Publish(ctx, id, protocol.Event{Type: protocol.EventChatState, ChatState: state})
		return func() {
			if err != nil {
				d.log.Debug("publish chat state", "state", state, "error", err)
			}
		}
	})
}

func (d *Desk) closeConversation(tab *Tab, conv string) {
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	id := t.ID
	d.ops.Push(func(ctx context.Context) func() {
		err := d.up.CloseConversation(ctx, id)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				d.log.Warn("close conversation", "conversation_id", id, "error", err)
				d.broadcast(id, Change{Announce: "The conversation could not be closed. Please try again."})
			}
		}
	})
}

// report checks every item against the agent's conversations (only the
// consumer's messages are acknowledged) and hands it to the tracker.
func (d *Desk) report(status string, items []Item) {
	if d.tracker == nil {
		return
	}
	var refused int
	var first error
	defer func() {
		if refused > 0 {
			d.logRefused("report refused", "status", status, "refused", refused, "items", len(items), "error", first)
		}
	}()
	refuse := func(err error) {
		if refused++; first == nil {
			first = err
		}
	}
	for _, it := range items {
		t, ok := d.inbox.ThreadOf(it.DialogID)
		if !ok {
			refuse(fmt.Errorf("report %s: %w", it.DialogID, receipts.ErrUnknownDialog))
			continue
		}
		if from, known := t.Kind(it.DialogID, it.Seq); known && from != FromConsumer {
			refuse(fmt.Errorf("report %s %d: not the consumer's message", it.DialogID, it.Seq))
			continue
		}
		var err error
		switch status {
		case "delivered":
			err = d.tracker.Delivered(it.DialogID, it.Seq)
		case "seen":
			err = d.tracker.Seen(it.DialogID, it.Seq)
		default:
			err = fmt.Errorf("unknown report %q", status)
		}
		if err != nil {
			refuse(err)
			continue
		}
		if status == "seen" {
			if ch := t.MarkRead(it.DialogID, it.Seq); !ch.Empty() {
				d.broadcast(t.ID, Change{List: true, Thread: ch})
			}
		}
	}
	d.armFlush()
}

// logRefused logs something a tab sent that was refused: one line per
// frame, and no more than refusals allows; the next line written says how
// many were not.
func (d *Desk) logRefused(msg string, args ...any) {
	if d.refusals == nil {
		d.refusals = ratelog.New(10*time.Second, 5)
	}
	if ok, skipped := d.refusals.Allow(); ok {
		d.log.Info(msg, append(args, "not_logged_before", skipped)...)
	}
}

func (d *Desk) armFlush() {
	if d.flushArmed || d.syncing || d.tracker == nil || !d.tracker.Pending() {
		return
	}
	d.flushArmed = true
	d.flushTimer.Reset(d.cfg.FlushWindow)
}

func (d *Desk) flushReceipts() {
	if d.syncing || d.tracker == nil || d.conn != messaging.StateOpen.String() {
		return // the reconnect's sync re-arms the flush
	}
	batches := d.tracker.Flush()
	if len(batches) == 0 {
		return
	}
	d.ops.Push(func(ctx context.Context) func() {
		results := receipts.PublishAll(ctx, batches, func(ctx context.Context, b receipts.Batch) error {
			_, err := d.up.Publish(ctx, b.DialogID, b.Event())
			return err
		})
		return func() {
			for _, b := range d.tracker.Settle(batches, results) {
				d.log.Warn("receipt dropped", "dialog_id", b.DialogID, "status", b.Status, "sequences", b.Sequences)
			}
			d.armFlush()
		}
	})
}

// broadcast renders a change once per selected conversation and sends it
// to every tab; the thread part goes only to tabs showing conv.
func (d *Desk) broadcast(conv string, ch Change) {
	if ch.empty() || len(d.tabs) == 0 {
		return
	}
	rendered := map[string][]byte{}
	for t := range d.tabs {
		b, done := rendered[t.selected]
		if !done {
			c := ch
			if t.selected == "" || t.selected != conv {
				c.Thread = ThreadChange{}
			}
			if !c.empty() {
				var err error
				b, err = d.cfg.Renderer.Change(d.view(t.selected, c.Thread.Reset), c)
				if err != nil {
					d.log.Error("render change", "error", err)
					return
				}
			}
			rendered[t.selected] = b
		}
		if b != nil {
			d.deliver(t, b)
		}
	}
}

// sendDesk sends a tab the whole desk with its conversation.
func (d *Desk) sendDesk(t *Tab) {
	b, err := d.cfg.Renderer.Desk(d.view(t.selected, true))
	if err != nil {
		d.log.Error("render desk", "error", err)
		return
	}
	d.deliver(t, b)
}

// signedOut tells every tab that the desk is gone.
func (d *Desk) signedOut() {
	b, err := d.cfg.Renderer.SignedOut()
	if err != nil {
		d.log.Error("render signed out", "error", err)
		return
	}
	for t := range d.tabs {
		d.deliver(t, b)
	}
	for t := range d.tabs {
		t.End(outbox.SignedOut)
	}
}

// deliver queues b for a tab, or drops the tab when its outbox is full: a
// slow tab must not hold up the desk (it reconnects and gets the desk anew).
func (d *Desk) deliver(t *Tab, b []byte) {
	if t.Offer(outbox.Frame{Data: b}) {
		return
	}
	d.log.Warn("tab too slow, dropped")
	delete(d.tabs, t)
	t.End(outbox.Slow)
	if len(d.tabs) == 0 {
		d.graceTimer.Reset(d.cfg.Grace)
	}
}

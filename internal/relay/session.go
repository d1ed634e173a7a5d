// Package relay holds a browser session's live state: its one upstream
// consumer connection, the conversation, the receipt policy and the tabs
// that show it. Every event is rendered once and fanned out to every tab;
// every tab's report goes through the receipt policy before anything is
// published (design.md §3, §4).
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/sender"
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
	Phase      Phase
	AgentName  string
	Typing     bool
	Rating     int
	// Messages is filled for Window, and for a Change that is a Reset.
	Messages []Message
	// Notice is a system message shown above the conversation, if any.
	Notice string
}

// Config configures the sessions of one server node.
type Config struct {
	Logger *slog.Logger
	// Consumer builds the upstream connection of a session whose token is
	// the one given (its TokenSource decides what happens when that token
	// is refused). tap records the session's frames for its protocol
	// inspector: pass it as the connection's messaging Tap.
	Consumer func(token string, tap func(out bool, data []byte)) (Upstream, error)
	Renderer Renderer
	// Grace is how long a session keeps its upstream after its last tab
	// left, so that a reload reuses it.
	Grace time.Duration
	// FlushWindow batches receipts (design.md §3 rule 4: ≤ 100 ms).
	FlushWindow time.Duration
	// TypingTimeout ends the agent's typing indicator when no other state
	// came (the agent's tab may have died mid-word).
	TypingTimeout time.Duration
	// TabBuffer bounds each tab's outbox; a tab that falls that far behind
	// is dropped rather than slowing the session.
	TabBuffer int
	// MaxTabs bounds a session's tabs; one more is refused (TooMany).
	MaxTabs int
	// Now is the clock for local message times.
	Now func() time.Time
	// Metrics, if any, counts sessions, tabs, upstream connects and
	// receipts, and measures receipt latency.
	Metrics *metrics.Metrics
	// NoInspector keeps no frames for the QA protocol inspector: in
	// production a busy session would otherwise hold up to inspector.Frames
	// copies of its traffic, and every frame would be copied once more.
	NoInspector bool
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
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
	RateCSAT(ctx context.Context, conversationID string, rate int, resolved bool, status string) error
	GetUserProfile(ctx context.Context, userID string) (protocol.UserProfile, error)
	Sync(ctx context.Context) error
}

// Manager holds this node's sessions by session id.
type Manager struct {
	cfg Config
	ctx context.Context

	mu       sync.Mutex
	sessions map[string]*Session
	draining bool // Shutdown has begun: no new tabs
	wg       sync.WaitGroup
}

// NewManager returns a manager whose sessions live until ctx ends.
func NewManager(ctx context.Context, cfg Config) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, ctx: ctx, sessions: map[string]*Session{}}
}

// Identity is what the session cookie holds.
type Identity struct {
	SessionID string
	Token     string
}

// Attach adds a tab to the session of id, starting the session (and its
// upstream connection) if it is not running.
func (m *Manager) Attach(id Identity) (*Tab, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.sessionLocked(id)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	t := &Tab{Outbox: outbox.New(m.cfg.TabBuffer), s: s}
	select {
	case s.cmds <- attachCmd{t}:
	case <-s.ended:
		return nil, errors.New("attach: session ended")
	}
	return t, nil
}

// Token returns the token a running session's upstream uses now: not the
// cookie's any more when the service refused that one and a fresh one was
// obtained (the web layer then updates the cookie, so that the next session
// starts as the same consumer).
func (m *Manager) Token(sessionID string) (string, bool) {
	m.mu.Lock()
	s, ok := m.sessions[sessionID]
	m.mu.Unlock()
	if !ok {
		return "", false
	}
	tok := s.up.Token()
	return tok, tok != ""
}

// sessionLocked returns the running session of id, starting it (and its
// upstream) when there is none. The caller holds m.mu.
func (m *Manager) sessionLocked(id Identity) (*Session, error) {
	if err := m.ctx.Err(); err != nil {
		return nil, err
	}
	if m.draining {
		return nil, errors.New("shutting down")
	}
	if s, ok := m.sessions[id.SessionID]; ok {
		return s, nil
	}
	s, err := m.start(id)
	if err != nil {
		return nil, err
	}
	m.sessions[id.SessionID] = s
	return s, nil
}

// View returns the window of a running session, for a page load.
func (m *Manager) View(sessionID string) (View, bool) {
	m.mu.Lock()
	s, ok := m.sessions[sessionID]
	m.mu.Unlock()
	if !ok {
		return View{}, false
	}
	reply := make(chan View, 1)
	select {
	case s.cmds <- viewCmd{reply}:
	case <-s.ended:
		return View{}, false
	}
	select {
	case v := <-reply:
		return v, true
	case <-s.ended:
		return View{}, false
	}
}

// Sessions is the number of live sessions.
func (m *Manager) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Wait blocks until every session has ended (after the manager's ctx).
func (m *Manager) Wait() {
	// Sessions start (wg.Add) under mu, in an Attach that found ctx alive:
	// once mu is taken after ctx ended, none can start any more, so Add
	// never races with Wait.
	m.mu.Lock()
	n := len(m.sessions)
	m.mu.Unlock()
	m.cfg.Logger.Debug("relay: waiting for the sessions to end", "sessions", n)
	m.wg.Wait()
}

func (m *Manager) start(id Identity) (*Session, error) {
	self, err := messaging.Subject(id.Token)
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	var insp *inspector.Inspector
	var tap func(out bool, data []byte)
	if !m.cfg.NoInspector {
		insp = inspector.New(time.Now, inspector.Frames, inspector.Bytes)
		tap = insp.Tap
	}
	up, err := m.cfg.Consumer(id.Token, tap)
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	s := &Session{
		cfg:     m.cfg,
		log:     m.cfg.Logger.With("session_id", shortID(id.SessionID), "consumer_id", self),
		id:      id.SessionID,
		up:      up,
		insp:    insp,
		self:    self,
		conv:    NewConversation(self),
		tracker: receipts.New(self),
		tabs:    map[*Tab]struct{}{},
		cmds:    make(chan any, 64),
		results: make(chan func(), 64),
		ended:   make(chan struct{}),
		cancel:  cancel,
		conn:    messaging.StateConnecting,
	}
	s.ops = sender.New()
	s.unsure = map[string]int{}
	m.cfg.Metrics.SessionStarted()
	m.wg.Add(2)
	// The upstream runs until the session's ctx ends (grace expired or the
	// manager stopped).
	go func() {
		defer m.wg.Done()
		if err := up.Run(ctx); err != nil {
			s.log.Warn("upstream ended", "error", err)
		}
	}()
	// The sender runs the session's requests one at a time, in order, on a
	// goroutine that lives while one is due, until ctx ends.
	s.ops.Start(ctx, s.results)
	// The loop owns the session's state until ctx ends; then it removes the
	// session from the manager.
	go func() {
		defer m.wg.Done()
		s.loop(ctx)
		s.ops.Wait()
		m.cfg.Metrics.SessionEnded()
		m.mu.Lock()
		if m.sessions[s.id] == s {
			delete(m.sessions, s.id)
		}
		m.mu.Unlock()
	}()
	s.ops.Push(func(ctx context.Context) func() {
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

// Session is one browser session's live state. Its fields are owned by its
// loop goroutine.
type Session struct {
	cfg     Config
	log     *slog.Logger
	id      string
	up      Upstream
	insp    *inspector.Inspector // nil: NoInspector
	conv    *Conversation
	tracker *receipts.Tracker
	tabs    map[*Tab]struct{}
	cmds    chan any
	results chan func()
	ops     *sender.Queue
	ended   chan struct{}
	cancel  context.CancelFunc

	conn        messaging.State // the upstream's, shown on the banner
	wasOpen     bool
	syncing     bool // reconnected: receipts wait for the catch-up
	flushArmed  bool
	lastFlush   time.Time
	flushTimer  *time.Timer
	typingTimer *time.Timer
	graceTimer  *time.Timer
	followed    map[string]bool
	nextLocal   int
	creating    bool // a conversation request is in flight
	// watches counts the open inspector watches (pages like tabs).
	watches int
	// endReason is what the tabs are told when the session ends: Detached
	// (they reconnect) unless the customer asked to be forgotten.
	endReason outbox.Reason
	// forgetting: the customer asked to be forgotten; forgetClosing: the
	// conversation's close for it is on its way.
	forgetting, forgetClosing bool
	// coalescing: broadcast merges into pending (see maxCoalesced).
	coalescing   bool
	pending      Change
	waiting      []string // local ids of messages waiting for the conversation
	lastComposed time.Time
	// unsure counts, per local message, publishes that got no answer.
	unsure map[string]int
	// self is the consumer's id (its token's sub); notice is a system
	// message the window shows (e.g. why the conversation restarted).
	self, notice string
	// since is when the upstream frame behind the change being made was
	// read (zero for changes no upstream frame caused): relay latency.
	since time.Time
	// refusals limits the log lines of what the tabs sent that was
	// refused (made on the first).
	refusals *ratelog.Limiter
	// reportedAt is when each receipt now due was first reported (receipt
	// latency, measured when the service answers its publish).
	reportedAt map[receiptKey]time.Time
}

// receiptKey names one receipt: a sequence of a dialog, and a status.
type receiptKey struct {
	dialogID string
	seq      int64
	status   string
}

// Tab is one browser tab's attachment to its session: its outbox (Out,
// Done, Reason) and the actions it passes to the session.
type Tab struct {
	*outbox.Outbox
	s *Session
}

func (t *Tab) cmd(c any) {
	select {
	case t.s.cmds <- c:
	case <-t.s.ended:
	case <-t.Done():
	}
}

// Detach removes the tab; the session keeps its upstream for the grace
// period after its last tab left.
func (t *Tab) Detach() { t.cmd(detachCmd{t}) }

// Send publishes the customer's text (creating the conversation first if
// there is none).
func (t *Tab) Send(text string) { t.cmd(sendCmd{text: text}) }

// Retry publishes a failed message again.
func (t *Tab) Retry(localID string) { t.cmd(retryCmd{localID}) }

// Report records what a tab did with agent messages: "delivered" (inserted
// into the page) or "seen" (read by the customer).
func (t *Tab) Report(status string, items []Item) { t.cmd(reportCmd{status, items}) }

// Item is one message a tab reports on.
type Item struct {
	DialogID string `json:"dialogId"`
	Seq      int64  `json:"seq"`
}

// Action answers structured content: the customer clicked choice index
// (a quick reply or a card button) of the agent message (dialogID, seq);
// text is what the page showed on it (empty: not checked). The session
// checks the click against what the agent sent, then publishes an ACTION
// receipt for the message and the choice's text as the customer's message,
// both with the click's metadata (docs/richcontent.md).
func (t *Tab) Action(dialogID string, seq int64, index int, text string) {
	t.cmd(actionCmd{dialogID: dialogID, seq: seq, index: index, text: text})
}

// Typing publishes the customer's chat state (COMPOSING, PAUSE, ACTIVE).
func (t *Tab) Typing(state string) { t.cmd(typingCmd{state}) }

// CloseConversation ends the conversation.
func (t *Tab) CloseConversation() { t.cmd(closeCmd{}) }

// Rate answers the satisfaction survey (1–5).
func (t *Tab) Rate(n int) { t.cmd(rateCmd{n}) }

// NewConversation leaves a closed conversation for a fresh window.
func (t *Tab) NewConversation() { t.cmd(newCmd{}) }

type (
	viewCmd   struct{ reply chan View }
	drainCmd  struct{}
	attachCmd struct{ t *Tab }
	detachCmd struct{ t *Tab }
	sendCmd   struct{ text string }
	retryCmd  struct{ localID string }
	reportCmd struct {
		status string
		items  []Item
	}
	typingCmd struct{ state string }
	actionCmd struct {
		dialogID string
		seq      int64
		index    int
		text     string
	}
	closeCmd   struct{}
	rateCmd    struct{ n int }
	newCmd     struct{}
	watchCmd   struct{ reply chan error }
	unwatchCmd struct{}
	forgetCmd  struct{}
)

// ErrTooManyTabs refuses a page (a tab or an inspector) to a session that
// has MaxTabs already.
var ErrTooManyTabs = errors.New("the session has too many tabs")

func (s *Session) view(withMessages bool) View {
	v := View{Connection: s.conn, Phase: s.conv.Phase, AgentName: s.conv.AgentName, Typing: s.conv.Typing, Rating: s.conv.Rating, Notice: s.notice}
	if withMessages {
		v.Messages = s.conv.Messages()
	}
	return v
}

// loop is the session's one goroutine of state. It ends with ctx.
func (s *Session) loop(ctx context.Context) {
	defer close(s.ended)
	defer func() {
		for t := range s.tabs {
			t.End(s.endReason)
			s.cfg.Metrics.TabGone()
		}
	}()
	stop := func(t **time.Timer) {
		if *t != nil {
			(*t).Stop()
		}
	}
	defer stop(&s.flushTimer)
	defer stop(&s.typingTimer)
	defer stop(&s.graceTimer)
	flush := make(chan struct{}, 1)
	typingDone := make(chan struct{}, 1)
	graceDone := make(chan struct{}, 1)
	s.flushTimer = time.AfterFunc(time.Hour, func() { signal(flush) })
	s.flushTimer.Stop()
	s.typingTimer = time.AfterFunc(time.Hour, func() { signal(typingDone) })
	s.typingTimer.Stop()
	s.graceTimer = time.AfterFunc(s.cfg.Grace, func() { signal(graceDone) })
	updates := s.up.Updates()
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				updates = nil
				s.upstreamEnded()
				continue
			}
			// The updates already waiting go out to the tabs as one change
			// (see maxCoalesced), timed from the oldest.
			s.since = received(u)
			s.coalescing = true
			s.upstream(ctx, u)
			if !s.drain(ctx, updates) {
				updates = nil
				s.upstreamEnded()
			}
			s.coalescing = false
			ch := s.pending
			s.pending = Change{}
			s.broadcast(ch)
			s.since = time.Time{}
		case c := <-s.cmds:
			s.command(c)
		case done := <-s.results:
			done()
		case <-flush:
			s.flushArmed = false
			s.flushReceipts()
		case <-typingDone:
			s.broadcast(s.conv.StopTyping())
		case <-graceDone:
			if s.pages() == 0 {
				s.log.Debug("session ended after its grace period")
				s.cancel()
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

func (s *Session) upstream(ctx context.Context, u messaging.Update) {
	switch u := u.(type) {
	case messaging.StateChange:
		s.ops.SetOpen(u.State == messaging.StateOpen)
		if s.conn == messaging.StateOpen && u.State != messaging.StateOpen {
			s.cfg.Metrics.Disconnected(messaging.LossCause(u.Err))
		}
		if u.State == messaging.StateOpen {
			s.cfg.Metrics.Connected(!s.wasOpen)
			if s.wasOpen {
				// Reconnected: receipts that were in flight may or may not
				// have landed; hold them until the catch-up has shown us.
				s.tracker.Requeue()
				s.syncing = false
				s.syncSoon()
			}
			s.wasOpen = true
			s.checkIdentity()
		}
		s.setConn(u.State)
	case messaging.SyncUpdate:
		if s.syncing {
			s.syncing = false
			s.armFlush()
			s.settleUnsure()
		}
		if s.forgetting && !s.forgetClosing {
			// Every conversation the service knows has been shown by
			// now, and none is open.
			s.endForgotten()
		}
	case messaging.ConversationUpdate:
		s.conversation(u.Change)
	case messaging.EventUpdate:
		s.event(u.Event)
	}
}

// drain applies up to maxCoalesced more updates that are already waiting;
// false: the updates ended.
func (s *Session) drain(ctx context.Context, updates <-chan messaging.Update) bool {
	for range maxCoalesced {
		select {
		case u, ok := <-updates:
			if !ok {
				return false
			}
			s.upstream(ctx, u)
		default:
			return true
		}
	}
	return true
}

func (s *Session) setConn(st messaging.State) {
	if st == s.conn {
		return
	}
	s.conn = st
	s.broadcast(Change{Connection: true})
}

func (s *Session) conversation(ch protocol.ConversationChange) {
	r := ch.Result
	d := r.ConversationDetails
	open := ch.Type == protocol.ChangeUpsert && d.Stage != protocol.StateClose && d.State != protocol.StateClose
	// Only the current conversation, or an open one when there is none.
	if s.conv.ID == "" && !open {
		return
	}
	if s.conv.ID != "" && s.conv.ID != r.ConvID {
		return
	}
	before := s.conv.AgentID
	change, ok := s.conv.ApplyConversation(ch)
	if !ok {
		return
	}
	s.follow(r.ConvID, d)
	if s.conv.AgentID != "" && s.conv.AgentID != before {
		s.fetchAgentName(s.conv.AgentID)
	}
	s.broadcast(change)
	if open {
		s.sendWaiting()
	}
	if s.forgetting {
		s.closeForgotten()
	}
}

// follow subscribes to every dialog of the conversation (the MAIN dialog's
// id is the conversation's).
func (s *Session) follow(convID string, d protocol.ConversationDetails) {
	ids := []string{convID}
	for _, dl := range d.Dialogs {
		if dl.DialogID != "" && dl.DialogID != convID {
			ids = append(ids, dl.DialogID)
		}
	}
	if s.followed == nil {
		s.followed = map[string]bool{}
	}
	for _, id := range ids {
		if s.followed[id] {
			continue
		}
		s.followed[id] = true
		s.tracker.Track(id)
		s.ops.Push(func(ctx context.Context) func() {
			err := s.up.Follow(ctx, id, convID, 0)
			return func() {
				if err != nil {
					s.log.Warn("follow dialog", "dialog_id", id, "error", err)
					delete(s.followed, id)
				}
			}
		})
	}
}

func (s *Session) fetchAgentName(agentID string) {
	s.ops.Push(func(ctx context.Context) func() {
		p, err := s.up.GetUserProfile(ctx, agentID)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				s.log.Debug("agent profile", "error", err)
				s.broadcast(s.conv.SetAgentName(agentID, "an agent"))
				return
			}
			name := strings.TrimSpace(p.Nickname)
			if name == "" {
				name = strings.TrimSpace(p.FirstName + " " + p.LastName)
			}
			if name == "" {
				name = "an agent"
			}
			s.broadcast(s.conv.SetAgentName(agentID, name))
		}
	})
}

func (s *Session) event(ev protocol.MessagingEvent) {
	if !s.followed[ev.DialogID] {
		return
	}
	s.tracker.Observe(ev)
	ch := s.conv.Apply(ev)
	if ch.Typing {
		if s.conv.Typing {
			s.typingTimer.Reset(s.cfg.TypingTimeout)
		} else {
			s.typingTimer.Stop()
		}
	} else if s.conv.Typing && ev.Event.Type == protocol.EventChatState {
		s.typingTimer.Reset(s.cfg.TypingTimeout)
	}
	s.broadcast(ch)
}

func (s *Session) command(c any) {
	switch c := c.(type) {
	case viewCmd:
		c.reply <- s.view(true)
	case drainCmd:
		// Shutting down: what is due goes out now, after everything queued
		// before it; then the session ends and its tabs are let go (their
		// pages reconnect, to another node behind a balancer).
		s.flushReceipts()
		s.ops.Push(func(context.Context) func() { return s.cancel })
	case attachCmd:
		if s.pages() >= s.cfg.MaxTabs {
			s.log.Warn("tab refused: the session has enough", "tabs", len(s.tabs), "inspectors", s.watches)
			c.t.End(outbox.TooMany)
			s.cfg.Metrics.TabDropped("too_many")
			return
		}
		s.tabs[c.t] = struct{}{}
		s.cfg.Metrics.TabAttached()
		s.graceTimer.Stop()
		b, err := s.cfg.Renderer.Window(s.view(true))
		if err != nil {
			s.log.Error("render window", "error", err)
			return
		}
		s.deliver(c.t, b)
	case detachCmd:
		if _, ok := s.tabs[c.t]; ok {
			delete(s.tabs, c.t)
			c.t.End(outbox.Detached)
			s.cfg.Metrics.TabGone()
		}
		s.graceIfIdle()
	case watchCmd:
		if s.pages() >= s.cfg.MaxTabs {
			s.log.Warn("inspector refused: the session has enough pages", "tabs", len(s.tabs), "inspectors", s.watches)
			c.reply <- ErrTooManyTabs
			return
		}
		s.watches++
		s.graceTimer.Stop()
		c.reply <- nil
	case unwatchCmd:
		s.watches--
		s.graceIfIdle()
	case forgetCmd:
		s.forget()
	case sendCmd:
		s.send(c.text)
	case retryCmd:
		m, ok := s.conv.Local(c.localID)
		if !ok || m.Delivery != ReceiptFailed {
			return
		}
		s.broadcast(s.conv.Sending(c.localID, m.Text, s.cfg.Now()))
		s.publishText(c.localID, m.Text)
	case reportCmd:
		s.report(c.status, c.items)
	case typingCmd:
		s.typing(c.state)
	case actionCmd:
		s.action(c)
	case closeCmd:
		s.closeConversation(func(err error) {
			if err != nil {
				s.broadcast(Change{Announce: "The conversation could not be ended. Please try again."})
			}
		})
	case rateCmd:
		id := s.conv.ID
		if id == "" || s.conv.Phase != PhaseClosed || c.n < 1 || c.n > 5 {
			return
		}
		n := c.n
		s.ops.Push(func(ctx context.Context) func() {
			err := s.up.RateCSAT(ctx, id, n, true, "FILLED")
			if sender.NotSent(err) {
				return nil
			}
			return func() {
				if err != nil {
					s.log.Warn("rate conversation", "conversation_id", id, "error", err)
					s.broadcast(Change{Announce: "Your rating could not be sent. Please try again."})
					return
				}
				if s.conv.ID == id {
					s.broadcast(s.conv.SetRating(n))
				}
			}
		})
	case newCmd:
		if s.conv.Phase != PhaseClosed && s.conv.Phase != PhaseRated {
			return
		}
		s.leaveConversation()
		s.broadcastWindow()
	}
}

// closeConversation asks the service to close the open conversation, and
// calls done on the loop with the answer (a refusal is logged); false when
// there is no open conversation to close.
func (s *Session) closeConversation(done func(error)) bool {
	id := s.conv.ID
	if id == "" || s.conv.Phase != PhaseOpen {
		return false
	}
	s.ops.Push(func(ctx context.Context) func() {
		err := s.up.CloseConversation(ctx, id)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				s.log.Warn("close conversation", "conversation_id", id, "error", err)
			}
			done(err)
		}
	})
	return true
}

// MaxText bounds a customer's message (the service refuses more than 8 KiB).
const MaxText = 8000

func (s *Session) send(text string) {
	// Without direction controls, as the bubble shows it (see
	// Conversation.Sending).
	text = strings.TrimSpace(bidi.Strip(text))
	if text == "" {
		return
	}
	if len(text) > MaxText {
		s.broadcast(Change{Announce: "Your message is too long."})
		return
	}
	if s.conv.Phase == PhaseClosed || s.conv.Phase == PhaseRated || s.forgetting {
		return
	}
	s.nextLocal++
	localID := strconv.Itoa(s.nextLocal)
	s.broadcast(s.conv.Sending(localID, text, s.cfg.Now()))
	if s.conn == messaging.StateOffline {
		// The upstream gave up: nothing will carry it.
		s.broadcast(s.conv.Failed(localID))
		return
	}
	if s.conv.ID == "" {
		s.waiting = append(s.waiting, localID)
		s.createConversation()
		return
	}
	s.publishText(localID, text)
}

// createConversation asks for a conversation (once at a time); messages
// typed meanwhile wait and go out in order when it exists.
func (s *Session) createConversation() {
	if s.creating {
		return
	}
	s.creating = true
	s.ops.Push(func(ctx context.Context) func() {
		id, err := s.up.RequestConversation(ctx, protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
		if sender.NotSent(err) {
			return nil
		}
		var perr *protocol.Error
		if errors.As(err, &perr) && perr.Code == 409 {
			// One was open after all: its id is in the text (protocol.md §4).
			if open := uuidIn(perr.Text); open != "" {
				id, err = open, nil
			}
		}
		return func() {
			s.creating = false
			if err != nil {
				s.log.Warn("request conversation", "error", err)
				for _, l := range s.waiting {
					s.broadcast(s.conv.Failed(l))
				}
				s.waiting = nil
				return
			}
			s.notice = "" // a new conversation: the old news is old
			if s.conv.ID == "" {
				s.conv.ID = id
				s.conv.Phase = PhaseOpen
				s.follow(id, protocol.ConversationDetails{})
				s.broadcast(Change{Phase: true})
			}
			s.sendWaiting()
		}
	})
}

func (s *Session) sendWaiting() {
	if s.conv.ID == "" || len(s.waiting) == 0 {
		return
	}
	for _, l := range s.waiting {
		if m, ok := s.conv.Local(l); ok {
			s.publishText(l, m.Text)
		}
	}
	s.waiting = nil
}

// action publishes the customer's answer to structured content: first the
// ACTION receipt of the agent's message, then the choice's text, which
// shows and ticks like any message of theirs. A refused click is logged
// and dropped.
func (s *Session) action(c actionCmd) {
	choice, ch, err := s.conv.Choose(c.dialogID, c.seq, c.index, c.text)
	if err != nil {
		s.logRefused("action refused", "dialog_id", c.dialogID, "seq", c.seq, "index", c.index, "error", err)
		return
	}
	s.broadcast(ch)
	conv, dialogID, seq, meta := s.conv.ID, c.dialogID, c.seq, choice.Metadata
	s.ops.Push(func(ctx context.Context) func() {
		ev := protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAction, SequenceList: protocol.Seqs{seq}}
		_, err := s.up.PublishWithMetadata(ctx, dialogID, conv, ev, meta)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			if err != nil {
				// The text still goes: it is the customer's answer.
				s.log.Warn("publish ACTION failed", "dialog_id", dialogID, "seq", seq, "error", err)
			}
		}
	})
	s.nextLocal++
	localID := strconv.Itoa(s.nextLocal)
	s.broadcast(s.conv.Answering(localID, choice.Text, meta, s.cfg.Now()))
	s.publishText(localID, choice.Text)
}

func (s *Session) publishText(localID, text string) {
	conv := s.conv.ID
	if conv == "" {
		s.waiting = append(s.waiting, localID)
		s.createConversation()
		return
	}
	meta := s.conv.answerMetadata(localID)
	s.ops.Push(func(ctx context.Context) func() {
		seq, err := s.up.PublishWithMetadata(ctx, conv, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text}, meta)
		if sender.NotSent(err) {
			return nil
		}
		return func() {
			switch messaging.Classify(err) {
			case messaging.OK:
				delete(s.unsure, localID)
				s.broadcast(s.conv.Sent(localID, conv, seq, s.cfg.Now()))
			case messaging.Retry, messaging.RefreshToken:
				// The socket died or no answer came (the message may have
				// landed), or the service refused the token, not the
				// message (the connection is getting a fresh one). It
				// stays pending until the catch-up says (its echo matched
				// by text), then goes out again only if it did not.
				s.log.Info("publish text: not confirmed, settled after the catch-up", "conversation_id", conv, "error", err)
				s.unsure[localID]++
				s.syncSoon()
			case messaging.GiveUp:
				s.log.Info("publish text refused", "conversation_id", conv, "error", err)
				delete(s.unsure, localID)
				s.broadcast(s.conv.Failed(localID))
			case messaging.Cancelled:
				// The session is ending: nobody is left to send it again.
			}
		}
	})
	s.publishChatState(protocol.ChatActive)
}

// upstreamEnded: the upstream gave up (its token refused again and again,
// or the service refused it for good). The banner says offline, and what
// the customer was still sending shows as not sent rather than pending
// forever.
func (s *Session) upstreamEnded() {
	s.setConn(messaging.StateOffline)
	for _, m := range s.conv.Messages() {
		if m.LocalID != "" && !m.HasSeq && m.Delivery == ReceiptPending {
			s.broadcast(s.conv.Failed(m.LocalID))
		}
	}
}

// checkIdentity notices that the service gave this session another
// identity: its token was refused (the service restarted and lost its
// state, or the token expired) and a fresh one was obtained the way the
// first was. The old conversation cannot be reached any more: the window
// starts afresh and says so, instead of failing every send.
func (s *Session) checkIdentity() {
	sub, err := messaging.Subject(s.up.Token())
	if err != nil || sub == s.self {
		return
	}
	s.log.Warn("new identity from the service: the conversation is gone", "conversation_id", s.conv.ID)
	s.self = sub
	s.leaveConversation()
	s.notice = "The chat service restarted and this conversation could not be kept. Write to start a new one."
	s.broadcastWindow()
}

// leaveConversation drops everything the session kept of its conversation
// (a new one starts, or the identity changed): the messages, the receipts
// tracked for its dialogs (a late report on them is then refused, never
// published against the next conversation), the dialogs followed, and the
// sends waiting for it.
func (s *Session) leaveConversation() {
	s.conv = NewConversation(s.self)
	s.tracker = receipts.New(s.self)
	s.reportedAt = nil
	s.followed = map[string]bool{}
	s.unsure = map[string]int{}
	s.waiting, s.creating = nil, false
	s.typingTimer.Stop()
}

// maxResends bounds how often a message whose publish had no answer is
// sent again before it shows as failed (with its retry button).
const maxResends = 3

// syncSoon asks for a Sync barrier (see messaging.Consumer.Sync) unless one
// is coming: after it, the catch-up has shown every message that landed.
func (s *Session) syncSoon() {
	if s.syncing {
		return // a reconnect's Sync is on its way
	}
	s.syncing = true
	s.ops.Push(func(ctx context.Context) func() {
		err := s.up.Sync(ctx)
		return func() {
			if err != nil {
				// The socket went down: the reconnect syncs again.
				s.log.Debug("sync", "error", err)
			}
		}
	})
}

// settleUnsure decides, after a Sync, about messages whose publish had no
// answer: one whose echo came back in the catch-up landed (it has its
// sequence now); any other is sent again, in the order they were written,
// or marked failed after maxResends. So a message lost in a cut is sent
// once, and never twice (design.md §3's "nothing lost", for the
// customer's own words).
func (s *Session) settleUnsure() {
	ids := slices.Collect(maps.Keys(s.unsure))
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	for _, id := range ids {
		tries := s.unsure[id]
		m, ok := s.conv.Local(id)
		if !ok || m.HasSeq {
			delete(s.unsure, id)
			continue
		}
		if tries >= maxResends {
			delete(s.unsure, id)
			s.broadcast(s.conv.Failed(id))
			continue
		}
		s.publishText(id, m.Text)
	}
}

func (s *Session) typing(state string) {
	switch state {
	case protocol.ChatComposing, protocol.ChatPause, protocol.ChatActive, protocol.ChatInactive:
	default:
		return
	}
	if s.conv.ID == "" || s.conv.Phase != PhaseOpen {
		return
	}
	now := s.cfg.Now()
	if state == protocol.ChatComposing {
		if now.Sub(s.lastComposed) < 2*time.Second {
			return // throttled: the page sends one every few seconds anyway
		}
		s.lastComposed = now
	} else {
		s.lastComposed = time.Time{}
	}
	s.publishChatState(state)
}

func (s *Session) publishChatState(state string) {
	conv := s.conv.ID
	if conv == "" {
		return
	}
	s.ops.Push(func(ctx context.Context) func() {
		_, err := s.up.Publish(ctx, conv, conv, protocol.Event{Type: protocol.EventChatState, ChatState: state})
		return func() {
			if err != nil {
				s.log.Debug("publish chat state", "state", state, "error", err)
			}
		}
	})
}

func (s *Session) report(status string, items []Item) {
	now := time.Now()
	var refused int
	var first error
	defer func() {
		if refused > 0 {
			s.logRefused("report refused", "status", status, "refused", refused, "items", len(items), "error", first)
		}
	}()
	for _, it := range items {
		var err error
		var asks []string // the receipts the report makes due
		switch status {
		case "delivered":
			err = s.tracker.Delivered(it.DialogID, it.Seq)
			asks = []string{protocol.StatusAccept}
		case "seen":
			err = s.tracker.Seen(it.DialogID, it.Seq)
			asks = []string{protocol.StatusAccept, protocol.StatusRead}
		default:
			err = fmt.Errorf("%w %q", errUnknownReport, status)
		}
		if err != nil {
			if refused++; first == nil {
				first = err
			}
			s.cfg.Metrics.ReportRefused(refusal(err))
			continue
		}
		if s.cfg.Metrics == nil {
			continue
		}
		done := s.tracker.Status(it.DialogID, it.Seq)
		for _, st := range asks {
			k := receiptKey{it.DialogID, it.Seq, st}
			if _, ok := s.reportedAt[k]; ok || done == protocol.StatusRead || done == st {
				continue
			}
			if s.reportedAt == nil {
				s.reportedAt = map[receiptKey]time.Time{}
			}
			s.reportedAt[k] = now
		}
	}
	s.armFlush()
}

var errUnknownReport = errors.New("unknown report")

// logRefused logs something a tab sent that was refused: one line per
// frame, and no more than refusalLogs allows (a page may send refused
// reports on purpose); the next line written says how many were not.
func (s *Session) logRefused(msg string, args ...any) {
	if s.refusals == nil {
		s.refusals = ratelog.New(refusalLogEvery, refusalLogBurst)
	}
	if ok, skipped := s.refusals.Allow(); ok {
		s.log.Info(msg, append(args, "not_logged_before", skipped)...)
	}
}

// A session logs a refusal at most every refusalLogEvery after a burst.
const (
	refusalLogEvery = 10 * time.Second
	refusalLogBurst = 5
)

// refusal names why the policy refused a report, for the metrics.
func refusal(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{receipts.ErrUnknownDialog, "unknown_dialog"},
		{receipts.ErrUnknownSequence, "unknown_sequence"},
		{receipts.ErrOwnMessage, "own_message"},
		{receipts.ErrNotContent, "not_content"},
		{errUnknownReport, "unknown_status"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// settled measures and counts a flush's outcome: receipt latency for each
// receipt the service took, since its first report.
func (s *Session) settled(batches []receipts.Batch, results []error) {
	if s.cfg.Metrics == nil {
		return
	}
	now := time.Now()
	for i, b := range batches {
		err := results[i]
		switch messaging.Classify(err) {
		case messaging.OK:
			s.cfg.Metrics.ReceiptsPublished(b.Status, len(b.Sequences))
		case messaging.GiveUp:
			s.cfg.Metrics.ReceiptsDropped(b.Status, len(b.Sequences))
		default:
			continue // still due (see Tracker.Settle): timed when it goes through
		}
		for _, n := range b.Sequences {
			k := receiptKey{b.DialogID, n, b.Status}
			if at, ok := s.reportedAt[k]; ok {
				if err == nil {
					s.cfg.Metrics.ReceiptLatency(now.Sub(at))
				}
				delete(s.reportedAt, k)
			}
		}
	}
	// Receipts another tab's node published (learned from the echo) are
	// never ours to time.
	for k := range s.reportedAt {
		if st := s.tracker.Status(k.dialogID, k.seq); st == protocol.StatusRead || st == k.status {
			delete(s.reportedAt, k)
		}
	}
}

func (s *Session) armFlush() {
	if s.flushArmed || s.syncing || !s.tracker.Pending() {
		return
	}
	s.flushArmed = true
	// A busy conversation (reports arriving all the time) still gets at
	// most one publish per dialog and status every minFlushSpacing.
	d := s.cfg.FlushWindow
	if wait := minFlushSpacing - time.Since(s.lastFlush); wait > d {
		d = wait
	}
	s.flushTimer.Reset(d)
}

// minFlushSpacing is the least time between two flushes of a session's
// receipts: ≤ 1 AcceptStatusEvent per dialog and status per 100 ms
// (design.md §3 rule 4; docs/performance.md).
const minFlushSpacing = 100 * time.Millisecond

func (s *Session) flushReceipts() {
	if s.syncing || s.conn != messaging.StateOpen {
		return // the reconnect's sync re-arms the flush
	}
	batches := s.tracker.Flush()
	if len(batches) == 0 {
		return
	}
	s.lastFlush = time.Now()
	conv := s.conv.ID
	s.ops.Push(func(ctx context.Context) func() {
		results := receipts.PublishAll(ctx, batches, func(ctx context.Context, b receipts.Batch) error {
			_, err := s.up.Publish(ctx, b.DialogID, conv, b.Event())
			return err
		})
		return func() {
			s.tracker.Settle(batches, results)
			s.settled(batches, results)
			for i, err := range results {
				if messaging.Classify(err) == messaging.GiveUp {
					b := batches[i]
					s.log.Warn("receipt dropped", "dialog_id", b.DialogID, "status", b.Status, "sequences", b.Sequences, "error", err)
				}
			}
			s.armFlush()
		}
	})
}

// broadcast renders a change once and sends it to every tab.
func (s *Session) broadcast(ch Change) {
	if ch.Empty() {
		return
	}
	if s.coalescing {
		s.pending = merge(s.pending, ch)
		return
	}
	if len(s.tabs) == 0 {
		return
	}
	b, err := s.cfg.Renderer.Change(s.view(ch.Reset), ch)
	if err != nil {
		s.log.Error("render change", "error", err)
		return
	}
	for t := range s.tabs {
		s.deliver(t, b)
	}
}

func (s *Session) broadcastWindow() {
	if len(s.tabs) == 0 {
		return
	}
	b, err := s.cfg.Renderer.Window(s.view(true))
	if err != nil {
		s.log.Error("render window", "error", err)
		return
	}
	for t := range s.tabs {
		s.deliver(t, b)
	}
}

// deliver queues b for a tab, or drops the tab when its outbox is full: a
// slow tab must not hold up the session (it reloads and catches up).
func (s *Session) deliver(t *Tab, b []byte) {
	if t.Offer(outbox.Frame{Data: b, Since: s.since}) {
		return
	}
	s.log.Warn("tab too slow, dropped")
	delete(s.tabs, t)
	t.End(outbox.Slow)
	s.cfg.Metrics.TabGone()
	s.cfg.Metrics.TabDropped("slow")
	s.graceIfIdle()
}

// pages counts what shows the session: its tabs and inspector watches
// (MaxTabs bounds their sum).
func (s *Session) pages() int { return len(s.tabs) + s.watches }

// graceIfIdle starts the grace period once no page shows the session.
func (s *Session) graceIfIdle() {
	if s.pages() == 0 {
		s.graceTimer.Reset(s.cfg.Grace)
	}
}

func uuidIn(text string) string {
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == ':' || r == '"' || r == ',' }) {
		if len(f) == 36 && strings.Count(f, "-") == 4 {
			return f
		}
	}
	return ""
}

// received is when the upstream frame behind u was read (zero when u came
// from no frame).
func received(u messaging.Update) time.Time {
	switch u := u.(type) {
	case messaging.EventUpdate:
		return u.Received
	case messaging.ConversationUpdate:
		return u.Received
	}
	return time.Time{}
}

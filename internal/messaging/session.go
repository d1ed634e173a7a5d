package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// State is a session's connection state, for the window's banner.
type State int

// States of a session.
const (
	// StateConnecting: Run has started and has not been open yet.
	StateConnecting State = iota
	// StateOpen: a socket is up and every subscription is in place.
	StateOpen
	// StateReconnecting: the socket was lost (or could not be opened);
	// the session waits its back-off and tries again.
	StateReconnecting
	// StateOffline: Run has ended.
	StateOffline
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	case StateOffline:
		return "offline"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Update is one thing a Consumer or Agent delivers, in order, on its
// Updates channel: a StateChange, a ConversationUpdate, an EventUpdate, a
// RoutingUpdate or a NotificationUpdate.
type Update interface{ isUpdate() }

// StateChange reports a new connection state; Err says why the socket was
// lost or why Run ended (nil when ctx ended).
type StateChange struct {
	State State
	Err   error
}

// ConversationUpdate is one change of a conversation's metadata (UPSERT or
// DELETE), from cqm (consumer) or aam (agent). Changes older than one
// already delivered for the same conversation are dropped.
type ConversationUpdate struct {
	Change protocol.ConversationChange
	// Received is when its frame was read off the socket (zero from
	// history fetched by request).
	Received time.Time
}

// EventUpdate is one messaging event. Events with a sequence are delivered
// once per dialog, in ascending order; chat states (no sequence) as they
// come.
type EventUpdate struct {
	Event protocol.MessagingEvent
	// Received is when its frame was read off the socket (zero from
	// history fetched by request).
	Received time.Time
}

// RoutingUpdate is one change of a routing task (agent only): a ring.
type RoutingUpdate struct {
	Change protocol.RoutingTaskChange
}

// NotificationUpdate is a notification of a type this package does not
// interpret, passed on as it came.
type NotificationUpdate struct {
	Frame protocol.Frame
}

// SyncUpdate marks a point in the stream (see Consumer.Sync): every
// notification the service sent before answering the Sync was delivered
// before it.
type SyncUpdate struct{}

func (SyncUpdate) isUpdate()         {}
func (StateChange) isUpdate()        {}
func (ConversationUpdate) isUpdate() {}
func (EventUpdate) isUpdate()        {}
func (RoutingUpdate) isUpdate()      {}
func (NotificationUpdate) isUpdate() {}

// TokenSource returns a token to connect with. A session calls it before
// its first connection and again whenever the service refused the token
// (handshake 401, a request answered 401, close 4401 or 4407). A consumer's
// source may sign up again or return a configured LP_JWT; the caller
// decides. An error it returns that Classify says to give up on or to
// refresh (an HTTP 4xx but 408 and 429: its own credentials were refused)
// ends Run; others are retried with back-off.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource that always returns t.
func StaticToken(t string) TokenSource {
	return func(context.Context) (string, error) { return t, nil }
}

// SignupToken is a TokenSource that signs up a new consumer on every call:
// the identity changes with each refresh.
func SignupToken(hc *http.Client, ep Endpoints) TokenSource {
	return func(ctx context.Context) (string, error) { return Signup(ctx, hc, ep) }
}

// Reconnection defaults.
const (
	DefaultMaxTokenRefresh = 3
	DefaultUpdateBuffer    = 256
	// stableAfter is how long a socket must have stayed open for the
	// back-off to start again from its base.
	stableAfter = 10 * time.Second
)

// SessionOptions are the reconnection settings shared by Consumer and Agent.
type SessionOptions struct {
	Logger  *slog.Logger
	Backoff Backoff
	// MaxTokenRefresh bounds consecutive refused tokens: after that many
	// fresh tokens were refused in a row, Run ends with an error wrapping
	// ErrTokenRejected. 0 means DefaultMaxTokenRefresh.
	MaxTokenRefresh int
	// UpdateBuffer is the capacity of the Updates channel (0 means
	// DefaultUpdateBuffer). When it is full, delivery waits: the socket is
	// still read (responses keep flowing) into a queue of at most
	// DialOptions.MaxQueued notifications, past which the socket is dropped
	// and the session reconnects and catches up. So a slow reader loses
	// nothing, and memory stays bounded.
	UpdateBuffer int
}

// item is something re-established on every connection: a subscription,
// an agent state, a catch-up. Items are applied in (prio, seq) order.
type item struct {
	key   string
	prio  int
	seq   uint64
	gen   uint64 // the connection it was last applied on; 0 = none
	apply func(ctx context.Context, c *Conn) error
}

// session keeps a socket up: token, dial, re-establish items, back-off. The
// roles (Consumer, Agent) give it their dial and notification handler and
// register their items.
type session struct {
	log        *slog.Logger
	opts       SessionOptions
	token      TokenSource
	dial       func(ctx context.Context, token string, onNote func(protocol.Frame, time.Time)) (*Conn, error)
	handle     func(ctx context.Context, gen uint64, f protocol.Frame, received time.Time)
	beforeDial func() // optional, called with no lock held before each dial

	updates chan Update
	running atomic.Bool
	runCtx  context.Context // Run's, for deliveries started outside the handler

	// mu guards the fields below and the roles' own state.
	mu     sync.Mutex
	cur    *Conn  // the open socket with every item applied, or nil
	curGen uint64 // cur's generation
	// live is the socket requests go to: set as soon as it is dialled, so
	// that an answer to a notification that arrives while the items are
	// being restored (a ring) need not wait.
	live    *Conn
	state   State
	items   map[string]*item
	itemSeq uint64
}

func newSession(opts SessionOptions) *session {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxTokenRefresh <= 0 {
		opts.MaxTokenRefresh = DefaultMaxTokenRefresh
	}
	if opts.UpdateBuffer <= 0 {
		opts.UpdateBuffer = DefaultUpdateBuffer
	}
	return &session{
		log:     opts.Logger,
		opts:    opts,
		updates: make(chan Update, opts.UpdateBuffer),
		items:   map[string]*item{},
	}
}

// Updates delivers everything in order; it is closed when Run returns.
func (s *session) Updates() <-chan Update { return s.updates }

// State is the current connection state.
func (s *session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// conn returns the socket for requests or ErrNotConnected.
func (s *session) conn() (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return nil, ErrNotConnected
	}
	return s.live, nil
}

// request sends one request on the open socket.
func (s *session) request(ctx context.Context, typ string, body, out any) error {
	c, err := s.conn()
	if err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	return c.Request(ctx, typ, body, out)
}

// Sync is a barrier in the stream of updates: it asks the service for its
// clock and, once answered, places a SyncUpdate in Updates after every
// notification received before the answer. Since the service sends a
// subscription's replay before answering the next request, a SyncUpdate
// after a reconnect says the catch-up has been delivered: what was
// published before the socket died is known by then (the relay holds its
// receipts until it sees it, so none goes out twice).
//
// It is refused (ErrNotConnected) until the socket's items are restored
// (StateOpen): a new socket takes requests while it restores them, and a
// barrier there could be answered before a subscription's replay was even
// asked for, saying "caught up" too early (a message or receipt that did
// land would then go out again). The StateOpen that follows is the moment
// to sync.
func (s *session) Sync(ctx context.Context) error {
	s.mu.Lock()
	c, open := s.live, s.state == StateOpen
	s.mu.Unlock()
	if c == nil || !open {
		return fmt.Errorf("sync: %w", ErrNotConnected)
	}
	if _, err := c.GetClock(ctx); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	s.mu.Lock()
	runCtx := s.runCtx
	s.mu.Unlock()
	if runCtx == nil || !c.runInOrder(func() { s.emit(runCtx, SyncUpdate{}) }) {
		return fmt.Errorf("sync: %w", ErrClosed)
	}
	return nil
}

// emit delivers u, waiting for room; it gives up when ctx (Run's) ends.
func (s *session) emit(ctx context.Context, u Update) bool {
	select {
	case s.updates <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *session) setState(ctx context.Context, st State, err error) {
	s.mu.Lock()
	changed := s.state != st
	s.state = st
	s.mu.Unlock()
	if changed || err != nil {
		s.emit(ctx, StateChange{State: st, Err: err})
	}
}

// ensure registers an item (or finds it) and applies it on the open socket
// unless it was already applied there. Without a socket it returns nil: the
// item is applied on the next connection. A refusal to give up on (see
// Classify) unregisters it and is returned; other errors are returned and
// the item stays, to be applied on the next connection (or by calling
// ensure again).
func (s *session) ensure(ctx context.Context, key string, prio int, apply func(ctx context.Context, c *Conn) error) error {
	s.mu.Lock()
	it, ok := s.items[key]
	if !ok {
		s.itemSeq++
		it = &item{key: key, prio: prio, seq: s.itemSeq, apply: apply}
		s.items[key] = it
	}
	c, gen := s.cur, s.curGen
	if c == nil || it.gen == gen {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	err := it.apply(ctx, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		if s.items[key] == it {
			it.gen = gen
		}
		return nil
	case Classify(err) == GiveUp:
		if s.items[key] == it {
			delete(s.items, key)
		}
	}
	return err
}

// forget unregisters an item.
func (s *session) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
}

// setup applies every item not yet applied on c, in order, then makes c the
// open socket, atomically with finding nothing left to apply (so an item
// registered meanwhile is never missed).
func (s *session) setup(ctx context.Context, c *Conn, gen uint64) error {
	for {
		s.mu.Lock()
		var todo []*item
		for _, it := range s.items {
			if it.gen != gen {
				todo = append(todo, it)
			}
		}
		if len(todo) == 0 {
			s.cur, s.curGen = c, gen
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		sort.Slice(todo, func(i, j int) bool {
			if todo[i].prio != todo[j].prio {
				return todo[i].prio < todo[j].prio
			}
			return todo[i].seq < todo[j].seq
		})
		for _, it := range todo {
			err := it.apply(ctx, c)
			s.mu.Lock()
			current := s.items[it.key] == it
			outcome := Classify(err)
			switch outcome {
			case OK:
				it.gen = gen
			case GiveUp:
				// E.g. a dialog that no longer exists: nothing to restore.
				if current {
					delete(s.items, it.key)
				}
				s.log.Warn("messaging: subscription refused, dropped", "item", it.key, "error", err)
			}
			s.mu.Unlock()
			switch outcome {
			case OK, GiveUp:
			case RefreshToken:
				return fmt.Errorf("restore %s: %w: %w", it.key, ErrTokenRejected, err)
			default:
				return fmt.Errorf("restore %s: %w", it.key, err)
			}
		}
	}
}

// run keeps a socket up until ctx ends. It returns nil when ctx ends, and
// an error when it gives up: a refusal to give up on (see Classify: an
// HTTP 4xx from the handshake, or a 4xx from the token source, whose 401
// means its own credentials are wrong) or too many refused tokens in a
// row.
func (s *session) run(ctx context.Context) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("messaging: Run called twice")
	}
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	defer close(s.updates)
	defer func() {
		s.mu.Lock()
		s.cur, s.live = nil, nil
		s.state = StateOffline
		s.mu.Unlock()
		// Tell the reader why, without blocking if nobody listens any more.
		select {
		case s.updates <- StateChange{State: StateOffline, Err: err}:
		default:
		}
	}()

	var (
		token      string
		needToken  = true
		rejections int
		attempt    int
		serverErrs int // 5xx answers since a socket last opened
		gen        uint64
		lastErr    error
	)
	s.mu.Lock()
	s.state = StateConnecting
	s.mu.Unlock()
	s.emit(ctx, StateChange{State: StateConnecting})
	for {
		if ctx.Err() != nil {
			return nil
		}
		// Every attempt gets its own generation: an item applied on a socket
		// that failed during setup must be applied again on the next one.
		gen++
		c, err := s.connect(ctx, &token, &needToken, gen)
		if err == nil {
			var opened time.Time
			opened, err = s.serve(ctx, c, gen)
			if ctx.Err() != nil {
				return nil
			}
			if !opened.IsZero() {
				rejections, serverErrs = 0, 0
				if time.Since(opened) >= stableAfter {
					attempt = 0
				}
				s.log.Info("messaging: socket lost", "error", err)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		outcome := Classify(err)
		var te *tokenError
		if errors.As(err, &te) && outcome == RefreshToken {
			// The token source itself was refused (wrong credentials or
			// unknown account): it is what would refresh.
			outcome = GiveUp
		}
		switch outcome {
		case GiveUp:
			return fmt.Errorf("messaging: giving up: %w", err)
		case RefreshToken:
			rejections++
			needToken = true
			if rejections > s.opts.MaxTokenRefresh {
				return fmt.Errorf("messaging: %d fresh tokens refused in a row: %w", rejections-1, err)
			}
		}
		if ServerError(err) {
			serverErrs++
		}
		lastErr = err
		s.setState(ctx, StateReconnecting, lastErr)
		d := s.opts.Backoff.Next(err, attempt, serverErrs)
		attempt++
		s.log.Debug("messaging: reconnecting", "after", d, "attempt", attempt, "error", lastErr)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// connect gets a token if needed and dials. The socket is not read yet:
// serve reads it. Its notifications go to the role's handler with the
// generation.
func (s *session) connect(ctx context.Context, token *string, needToken *bool, gen uint64) (*Conn, error) {
	if *needToken {
		t, err := s.token(ctx)
		if err != nil {
			return nil, &tokenError{err}
		}
		*token, *needToken = t, false
	}
	if s.beforeDial != nil {
		s.beforeDial()
	}
	onNote := func(f protocol.Frame, at time.Time) { s.handle(ctx, gen, f, at) }
	return s.dial(ctx, *token, onNote)
}

// serve reads c on this goroutine (Run's: the socket costs no goroutine of
// its own) until it ends, while another restores every item on it. opened
// is when it was up with every item restored (zero: it never was); err is
// why it ended or why the restore failed.
func (s *session) serve(ctx context.Context, c *Conn, gen uint64) (opened time.Time, err error) {
	type result struct {
		opened time.Time
		err    error
	}
	restored := make(chan result, 1)
	// Authenticates (InitConnection) and restores the items; ends once
	// done, or once the socket failed under it.
	go func() {
		err := s.restore(ctx, c, gen)
		if err != nil {
			c.fail(err)
			restored <- result{err: err}
			return
		}
		now := time.Now()
		s.setState(ctx, StateOpen, nil)
		restored <- result{opened: now}
	}()
	// The reader must end with ctx too.
	stop := context.AfterFunc(ctx, func() { c.fail(ctx.Err()) })
	c.readLoop()
	stop()
	r := <-restored
	s.mu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	if s.live == c {
		s.live = nil
	}
	s.mu.Unlock()
	_ = c.Close() // waits until what was read has been delivered
	if r.err != nil {
		return time.Time{}, r.err
	}
	return r.opened, c.Err()
}

// restore authenticates c when it needs an InitConnection, makes it the
// socket for requests, and applies every item (setup).
func (s *session) restore(ctx context.Context, c *Conn, gen uint64) error {
	if c.opts.InitConnection {
		if err := c.initConnection(ctx); err != nil {
			return fmt.Errorf("dial: %w", err)
		}
	}
	s.mu.Lock()
	s.live = c
	s.mu.Unlock()
	return s.setup(ctx, c, gen)
}

// tokenError is a TokenSource's failure.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

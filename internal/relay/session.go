package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Session is one browser session's live state. Its fields are owned by its
// loop's goroutine (it is the loop's live.Owner).
type Session struct {
	cfg     Config
	log     *slog.Logger
	id      string
	up      Upstream
	insp    *inspector.Inspector // nil: NoInspector
	conv    *Conversation
	tracker *receipts.Tracker
	loop    *live.Loop[struct{}]

	conn      messaging.State // the upstream's, shown on the banner
	wasOpen   bool
	followed  map[string]bool
	nextLocal int
	creating  bool // a conversation request is in flight
	// forgetting: the customer asked to be forgotten; forgetClosing: the
	// conversation's close for it is on its way; forgotten: the session
	// ends for good.
	forgetting, forgetClosing, forgotten bool
	// coalescing: broadcast merges into pending (see Updates).
	coalescing bool
	pending    Change
	waiting    []string // local ids of messages waiting for the conversation
	// convWaiters wait for the conversation being requested (upload.go).
	convWaiters  []func(error)
	lastComposed time.Time
	// unsure is what is known of each local message whose publish got no
	// answer (see settleUnsure).
	unsure map[string]doubt
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
	// visit is what the last tab that attached said of its browser.
	visit Visit
	// signingIn: the tabs are asked to sign the customer in again
	// (identity.go).
	signingIn bool

	// The identity: the cookie's, then each renewal's (identity.go).
	// identMu guards ident and gaveToken, which the upstream's token
	// source writes; awaiting is set while that source waits for the
	// customer's page, and signedIn brings it the page's token.
	identMu   sync.Mutex
	ident     Identity
	gaveToken bool
	awaiting  atomic.Bool
	signedIn  chan string
}

// receiptKey names one receipt: a sequence of a dialog, and a status.
type receiptKey struct {
	dialogID string
	seq      int64
	status   string
}

// Updates applies upstream updates that were waiting together; their
// changes go out to the tabs as one, timed from the oldest (relay
// latency).
func (s *Session) Updates(batch []messaging.Update) {
	s.since = received(batch[0])
	s.coalescing = true
	for _, u := range batch {
		s.upstream(u)
	}
	s.coalescing = false
	ch := s.pending
	s.pending = Change{}
	s.broadcast(ch)
	s.since = time.Time{}
}

// Attached sends a new tab the whole window (live.Owner).
func (s *Session) Attached(t *live.Tab[struct{}]) {
	b, err := s.cfg.Renderer.Window(s.view(true))
	if err != nil {
		s.log.Error("render window", "error", err)
		return
	}
	s.deliver(t, b)
}

// TypingDone ends the agent's typing indicator: no other state came
// (live.Owner).
func (s *Session) TypingDone() { s.broadcast(s.conv.StopTyping()) }

// Ending: the session ends (live.Owner).
func (s *Session) Ending(why live.End) {
	if why == live.Idle {
		s.log.Debug("session ended after its grace period")
	}
}

func (s *Session) view(withMessages bool) View {
	v := View{Connection: s.conn, SignIn: s.signingIn, Phase: s.conv.Phase, AgentName: s.conv.AgentName, Typing: s.conv.Typing, Rating: s.conv.Rating, Notice: s.notice, Queue: s.conv.Queue(), UI: s.visit.UI}
	if withMessages {
		v.Messages = s.conv.Messages()
	}
	return v
}

func (s *Session) upstream(u messaging.Update) {
	switch u := u.(type) {
	case messaging.StateChange:
		s.loop.Ops.SetOpen(u.State == messaging.StateOpen)
		if s.conn == messaging.StateOpen && u.State != messaging.StateOpen {
			s.cfg.Metrics.Disconnected(messaging.LossCause(u.Err))
		}
		if u.State == messaging.StateOpen {
			s.cfg.Metrics.Connected(!s.wasOpen)
			if s.wasOpen {
				// Reconnected: hold receipts until the catch-up has shown
				// what landed. Those in flight stay in flight, not due
				// again: the flush that carries them may not have run yet
				// and then runs on this socket, and it settles them when
				// it does (one that went out unanswered holds the receipts
				// for a catch-up: settled). Making them due here put them
				// at the service twice: once by that flush, once by the
				// next.
				s.sync()
			}
			s.wasOpen = true
			s.checkIdentity()
		}
		s.setConn(u.State)
	case messaging.SyncUpdate:
		if s.loop.ReleaseReceipts() {
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
	// Open is the stage (PCS): a conversation in its survey still is.
	open := ch.Type == protocol.ChangeUpsert && d.Stage != protocol.StateClose &&
		(d.Stage != "" || d.State != protocol.StateClose)
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
		s.loop.Ops.Push(func(ctx context.Context) func() {
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
	live.Call(s.loop, func(ctx context.Context) (protocol.UserProfile, error) {
		return s.up.GetUserProfile(ctx, agentID)
	}, func(p protocol.UserProfile, err error) {
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
			s.loop.ArmTyping(s.cfg.TypingTimeout)
		} else {
			s.loop.StopTyping()
		}
	} else if s.conv.Typing && ev.Event.Type == protocol.EventChatState {
		s.loop.ArmTyping(s.cfg.TypingTimeout)
	}
	s.broadcast(ch)
}

// Command handles a tab's or the manager's command (live.Owner).
func (s *Session) Command(c any) {
	switch c := c.(type) {
	case viewCmd:
		c.reply <- s.view(true)
	case drainCmd:
		// Shutting down: what is due goes out now, after everything queued
		// before it; then the session ends and its tabs are let go (their
		// pages reconnect, to another node behind a balancer).
		s.loop.FlushNow()
		s.loop.Ops.Push(func(context.Context) func() { return func() { s.loop.End(outbox.Detached) } })
	case watchCmd:
		c.reply <- s.loop.AddPage()
	case unwatchCmd:
		s.loop.DropPage()
	case forgetCmd:
		s.forget()
	case signInCmd:
		s.signIn(c.asking)
	case visitCmd:
		s.visit = c.v
	case sendCmd:
		s.send(c.text)
	case retryCmd:
		m, ok := s.conv.Retryable(c.localID)
		if !ok {
			return
		}
		s.broadcast(s.conv.Sending(c.localID, m.Text, s.cfg.Now()))
		s.publishLocal(c.localID)
	case reportCmd:
		s.report(c.status, c.items)
	case typingCmd:
		s.typing(c.state)
	case actionCmd:
		s.action(c)
	case linkCmd:
		s.link(c)
	case closeCmd:
		s.closeConversation(false, func(err error) {
			if err != nil {
				s.broadcast(Change{Announce: "The conversation could not be ended. Please try again."})
			}
		})
	case rateCmd:
		s.rate(c.r)
	case newCmd:
		if s.conv.Phase != PhaseClosed && s.conv.Phase != PhaseRated && s.conv.Phase != PhaseEnded {
			return
		}
		s.leaveConversation()
		s.broadcastWindow()
	}
}

// closeConversation asks the service to close the open conversation, and
// calls done on the loop with the answer (a refusal is logged); false when
// there is no open conversation to close. An open one is closed as Close
// Conversation says, which starts its survey if the brand has one; with
// noSurvey it is closed whole (PCS's Stage field). A survey is skipped by
// closing its dialog (PCS, Multi-Dialog Conversation).
func (s *Session) closeConversation(noSurvey bool, done func(error)) bool {
	id := s.conv.ID
	var req func(ctx context.Context) error
	switch {
	case id == "":
		return false
	case s.conv.Phase == PhaseSurvey:
		survey := s.conv.Dialog()
		req = func(ctx context.Context) error { return s.up.CloseDialog(ctx, id, survey, "Closed by consumer") }
	case s.conv.Phase == PhaseOpen && noSurvey:
		req = func(ctx context.Context) error { return s.up.EndConversation(ctx, id) }
	case s.conv.Phase == PhaseOpen:
		req = func(ctx context.Context) error { return s.up.CloseConversation(ctx, id) }
	default:
		return false
	}
	s.loop.Request(req, func(err error) {
		if err != nil {
			s.log.Warn("close conversation", "conversation_id", id, "error", err)
		}
		done(err)
	})
	return true
}

// UpstreamEnded: the upstream gave up (its token refused again and again,
// or the service refused it for good). The banner says offline, and what
// the customer was still sending shows as not sent rather than pending
// forever.
func (s *Session) UpstreamEnded() {
	s.signIn(false)
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
	if s.conv.ID == "" {
		// Nothing to lose: no conversation at the service yet (a
		// first message waiting for one goes with the new identity).
		s.self = sub
		s.tracker = receipts.New(sub)
		return
	}
	s.log.Warn("new identity from the service: the conversation is gone", "conversation_id", s.conv.ID)
	s.self = sub
	s.leaveConversation()
	s.notice = s.identityNotice()
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
	s.unsure = map[string]doubt{}
	s.waiting, s.creating = nil, false
	s.conversationSettled(fmt.Errorf("%w: the conversation was left", ErrNoFiles))
	s.loop.StopTyping()
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
	if s.loop.TabCount() == 0 {
		return
	}
	b, err := s.cfg.Renderer.Change(s.view(ch.Reset), ch)
	if err != nil {
		s.log.Error("render change", "error", err)
		return
	}
	s.loop.Broadcast(outbox.Frame{Data: b, Since: s.since})
}

func (s *Session) broadcastWindow() {
	if s.loop.TabCount() == 0 {
		return
	}
	b, err := s.cfg.Renderer.Window(s.view(true))
	if err != nil {
		s.log.Error("render window", "error", err)
		return
	}
	s.loop.Broadcast(outbox.Frame{Data: b, Since: s.since})
}

// deliver queues b for a tab, timed from the upstream frame behind it (a
// slow tab is let go: see live.Loop.Deliver).
func (s *Session) deliver(t *live.Tab[struct{}], b []byte) {
	s.loop.Deliver(t, outbox.Frame{Data: b, Since: s.since})
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

package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Fully qualified type names of the agent dialect (docs/protocol.md, Agent
// socket): the agent SDK sends them so, and so does this client.
func qualified(t string) string { return ".ams." + t }

// AgentConfig configures an Agent.
type AgentConfig struct {
	Endpoints Endpoints
	Username  string
	Password  string
	// HTTPClient is used for login and the socket.
	HTTPClient     *http.Client
	RequestTimeout time.Duration // 0 means DefaultRequestTimeout
	PingInterval   time.Duration // 0 means DefaultPingInterval
	// RefreshInterval is how often the login session is refreshed while
	// Run runs; 0 means DefaultRefreshInterval, < 0 never.
	RefreshInterval time.Duration
	Tap             func(out bool, data []byte)
	SessionOptions
}

// Agent is an agent's reconnecting session in the agent API's dialect: the
// agent console and the demo bot play the brand's side with it. It logs in
// before the first connection and again whenever the bearer is refused.
// Its agent state, routing-task and conversation subscriptions are
// remembered and restored on every connection, and the dialogs it follows
// (explicitly, or because it received their events) are caught up with
// QueryMessages from the sequence after the last one delivered, so no event
// is lost or delivered twice.
//
// Everything arrives on Updates, in order: RoutingUpdates (rings),
// ConversationUpdates (aam), EventUpdates (OnlineEventDistribution and
// catch-up), StateChanges.
type Agent struct {
	*session
	cfg AgentConfig

	// Guarded by session.mu.
	login    protocol.LoginResponse
	dialogs  map[string]*agentDialog
	convSeen map[string]int64
}

// agentDialog tracks what was delivered of one dialog. Live events arrive
// in order; history (Follow, catch-up) is merged in. While catching is set,
// live events wait in pending so that history and live interleave in
// sequence order.
type agentDialog struct {
	lo, next int64 // delivered sequences are [lo, next) when any
	any      bool
	catching bool
	pending  []protocol.MessagingEvent
}

// NewAgent builds an Agent; Run logs in and connects it.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Endpoints.AsyncMessagingEnt == "" || cfg.Endpoints.AgentVep == "" || cfg.Endpoints.Account == "" {
		return nil, fmt.Errorf("new agent: endpoints lack the messaging or agentVep host or the account")
	}
	a := &Agent{
		session:  newSession(cfg.SessionOptions),
		cfg:      cfg,
		dialogs:  map[string]*agentDialog{},
		convSeen: map[string]int64{},
	}
	a.session.token = func(ctx context.Context) (string, error) {
		lr, err := Login(ctx, cfg.HTTPClient, cfg.Endpoints, cfg.Username, cfg.Password)
		if err != nil {
			return "", err
		}
		a.mu.Lock()
		a.login = lr
		a.mu.Unlock()
		return lr.Bearer, nil
	}
	a.session.dial = func(ctx context.Context, bearer string, onNote func(protocol.Frame, time.Time)) (*Conn, error) {
		return Dial(ctx, cfg.Endpoints.AgentURL(bearer), DialOptions{
			HTTPClient:     cfg.HTTPClient,
			Logger:         a.log,
			RequestTimeout: cfg.RequestTimeout,
			PingInterval:   cfg.PingInterval,
			OnNotification: onNote,
			Tap:            cfg.Tap,
			readByCaller:   true,
		})
	}
	a.session.beforeDial = func() {
		// Live events may arrive as soon as the socket opens: hold them
		// back until each dialog's catch-up has run.
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, d := range a.dialogs {
			d.catching = true
		}
	}
	a.session.handle = a.handle
	return a, nil
}

// Run logs in and keeps the agent connected until ctx ends (then it returns
// nil) or it gives up (wrong password, too many refused bearers). Meanwhile
// it refreshes the login session every RefreshInterval, so that the bearer
// does not expire. Call it once; Updates is closed when it returns.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	refresher := make(chan struct{})
	// The refresher ends with Run: cancel, then wait for it.
	go func() {
		defer close(refresher)
		a.refreshLoop(ctx)
	}()
	defer func() {
		cancel()
		<-refresher
	}()
	return a.run(ctx)
}

// Login is the last login's answer (zero before the first).
func (a *Agent) Login() protocol.LoginResponse {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.login
}

// OldID is the agent's "{account}.{userId}" id, which the agent socket uses
// as originatorId and in agent state and routing requests.
func (a *Agent) OldID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.oldIDLocked()
}

func (a *Agent) oldIDLocked() string {
	if a.login.Config.UserID == "" {
		return ""
	}
	return a.cfg.Endpoints.Account + "." + a.login.Config.UserID
}

// PID is the agent's participant id (userPid), the id consumers see.
func (a *Agent) PID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.login.Config.UserPID
}

// SetAgentState sets the agent's availability (ONLINE, OCCUPIED, AWAY) and
// restores it after every reconnect. ONLINE agents subscribed to routing
// tasks are offered conversations.
func (a *Agent) SetAgentState(ctx context.Context, availability string) error {
	// A new state replaces the old item (and is applied now when connected).
	a.forget("state")
	return a.ensure(ctx, "state", prioAgentState, func(ctx context.Context, c *Conn) error {
		body := protocol.SetAgentState{Availability: availability, Channels: protocol.Strings{"MESSAGING"}, AgentUserID: a.OldID()}
		return c.Request(ctx, qualified(protocol.TypeSetAgentState), body, nil)
	})
}

// SubscribeRoutingTasks subscribes to rings (RoutingUpdates), restored
// after every reconnect.
func (a *Agent) SubscribeRoutingTasks(ctx context.Context) error {
	return a.ensure(ctx, "routing", prioRouting, func(ctx context.Context, c *Conn) error {
		body := protocol.SubscribeRoutingTasks{ChannelType: "MESSAGING", AgentID: a.OldID(), BrandID: protocol.ID(a.cfg.Endpoints.Account)}
		var resp protocol.SubscriptionResponse
		return c.Request(ctx, qualified(protocol.TypeSubscribeRoutingTasks), body, &resp)
	})
}

// AcceptRing accepts a ring: the agent joins as ASSIGNED_AGENT.
func (a *Agent) AcceptRing(ctx context.Context, ringID string) error {
	return a.UpdateRingState(ctx, ringID, protocol.RingAccepted)
}

// RejectRing declines a ring: routing offers the conversation to another
// agent of its skill.
func (a *Agent) RejectRing(ctx context.Context, ringID string) error {
	return a.UpdateRingState(ctx, ringID, protocol.RingRejected)
}

// UpdateRingState accepts or rejects a ring.
func (a *Agent) UpdateRingState(ctx context.Context, ringID, state string) error {
	return a.request(ctx, qualified(protocol.TypeUpdateRingState), protocol.UpdateRingState{RingID: ringID, RingState: state}, nil)
}

// SubscribeConversations subscribes to conversations (aam) as
// ConversationUpdates, restored after every reconnect. A zero filter means
// the open conversations of the whole brand. When a conversation is
// reported closed, its dialogs stop being caught up.
func (a *Agent) SubscribeConversations(ctx context.Context, filter protocol.SubscribeExConversations) error {
	if len(filter.ConvState) == 0 {
		filter.ConvState = protocol.Strings{protocol.StateOpen}
	}
	return a.ensure(ctx, "aam", prioConversations, func(ctx context.Context, c *Conn) error {
		var resp protocol.SubscriptionResponse
		return c.Request(ctx, qualified(protocol.TypeAgentSubscribeExConversations), filter, &resp)
	})
}

// Join adds the agent to a conversation with a role (ASSIGNED_AGENT,
// MANAGER, …) without a ring.
func (a *Agent) Join(ctx context.Context, conversationID, role string) error {
	return a.participants(ctx, conversationID, "ADD", role)
}

// Leave removes the agent from a conversation.
func (a *Agent) Leave(ctx context.Context, conversationID, role string) error {
	return a.participants(ctx, conversationID, "REMOVE", role)
}

func (a *Agent) participants(ctx context.Context, conversationID, op, role string) error {
	return a.updateField(ctx, conversationID, protocol.ConversationField{
		Field: protocol.FieldParticipantsChange, Type: op, Role: role, UserID: a.OldID(),
	})
}

// CloseConversation closes a conversation.
func (a *Agent) CloseConversation(ctx context.Context, conversationID string) error {
	return a.updateField(ctx, conversationID, protocol.ConversationField{
		Field: protocol.FieldConversationState, ConversationState: protocol.StateClose,
	})
}

func (a *Agent) updateField(ctx context.Context, conversationID string, f protocol.ConversationField) error {
	body := protocol.UpdateConversationField{
		ConversationID:    conversationID,
		ConversationField: protocol.List[protocol.ConversationField]{f},
	}
	return a.request(ctx, qualified(protocol.TypeUpdateConversationField), body, nil)
}

// Publish publishes an event to a dialog and returns its sequence (0 for
// chat states).
func (a *Agent) Publish(ctx context.Context, dialogID string, ev protocol.Event) (int64, error) {
	var resp protocol.PublishEventResponse
	body := protocol.PublishEvent{DialogID: dialogID, Event: ev}
	if err := a.request(ctx, qualified(protocol.TypePublishEvent), body, &resp); err != nil {
		return 0, err
	}
	return resp.Sequence, nil
}

// QueryMessages returns a dialog's stored events with sequence >= fromSeq,
// in sequence order. It delivers nothing on Updates (see Follow).
func (a *Agent) QueryMessages(ctx context.Context, dialogID string, fromSeq int64) ([]protocol.MessagingEvent, error) {
	c, err := a.conn()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", protocol.TypeQueryMessages, err)
	}
	return queryMessages(ctx, c, dialogID, fromSeq)
}

func queryMessages(ctx context.Context, c *Conn, dialogID string, fromSeq int64) ([]protocol.MessagingEvent, error) {
	var evs protocol.List[protocol.MessagingEvent]
	body := protocol.QueryMessages{DialogID: dialogID, NewerThanSequence: fromSeq}
	if err := c.Request(ctx, qualified(protocol.TypeQueryMessages), body, &evs); err != nil {
		return nil, err
	}
	out := []protocol.MessagingEvent(evs)
	for i := range out {
		if out[i].DialogID == "" {
			out[i].DialogID = dialogID
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return seqOf(out[i]) < seqOf(out[j]) })
	return out, nil
}

func seqOf(ev protocol.MessagingEvent) int64 {
	s, _ := ev.Seq()
	return s
}

// GetUserProfile returns a consumer's profile.
func (a *Agent) GetUserProfile(ctx context.Context, consumerID string) (protocol.UserProfile, error) {
	var p protocol.UserProfile
	err := a.request(ctx, qualified(protocol.TypeGetUserProfile), consumerID, &p)
	return p, err
}

// GetClock asks the service's time in epoch ms.
func (a *Agent) GetClock(ctx context.Context) (int64, error) {
	var resp protocol.GetClockResponse
	err := a.request(ctx, "."+protocol.TypeGetClock, json.RawMessage(`{}`), &resp)
	return resp.CurrentTime, err
}

// Follow delivers a dialog's history from fromSeq on as EventUpdates
// (events already delivered are skipped), then its live events, and
// catches it up after every reconnect. Without a socket it happens on the
// next connection. A refusal by the service is returned and the dialog is
// not followed.
func (a *Agent) Follow(ctx context.Context, dialogID string, fromSeq int64) error {
	a.mu.Lock()
	d, ok := a.dialogs[dialogID]
	if !ok {
		d = &agentDialog{}
		a.dialogs[dialogID] = d
	}
	d.catching = true
	a.mu.Unlock()
	// The catch-up queries from fromSeq the first time, then from where
	// delivery stands.
	first := true
	a.forget("dialog:" + dialogID)
	err := a.ensure(ctx, "dialog:"+dialogID, prioDialogs, a.catchUp(dialogID, func(d *agentDialog) int64 {
		if first {
			first = false
			return fromSeq
		}
		if d.any {
			return d.next
		}
		return fromSeq
	}))
	if Classify(err) == GiveUp {
		a.Unfollow(dialogID)
	}
	return err
}

// Unfollow stops tracking a dialog: no catch-up after reconnects.
func (a *Agent) Unfollow(dialogID string) {
	a.forget("dialog:" + dialogID)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.dialogs, dialogID)
}

// catchUp returns the item that queries a dialog's history from from(d)
// and then, on the socket's delivery goroutine (so in its place among the
// notifications, and never on a caller's goroutine, which may be the one
// reading Updates), merges it with the live events held back meanwhile and
// delivers what was not delivered before, in sequence order. from is
// called with the lock held.
func (a *Agent) catchUp(dialogID string, from func(d *agentDialog) int64) func(ctx context.Context, c *Conn) error {
	return func(ctx context.Context, c *Conn) error {
		a.mu.Lock()
		d, ok := a.dialogs[dialogID]
		if !ok {
			a.mu.Unlock()
			return nil
		}
		d.catching = true
		fromSeq := from(d)
		a.mu.Unlock()

		history, err := queryMessages(ctx, c, dialogID, fromSeq)
		if err != nil {
			if Classify(err) == GiveUp {
				a.mu.Lock()
				delete(a.dialogs, dialogID)
				a.mu.Unlock()
			}
			return err
		}
		if !c.runInOrder(func() { a.merge(dialogID, history) }) {
			return fmt.Errorf("catch up %s: %w: %w", dialogID, ErrClosed, c.Err())
		}
		return nil
	}
}

// merge delivers history and the held-back live events of a dialog, each
// sequence once, in order. It runs on the delivery goroutine: no live event
// is delivered meanwhile, so the lock is not held while delivering.
func (a *Agent) merge(dialogID string, history []protocol.MessagingEvent) {
	a.mu.Lock()
	ctx := a.runCtx
	d, ok := a.dialogs[dialogID]
	if !ok {
		a.mu.Unlock()
		return
	}
	merged := append(history, d.pending...)
	d.pending = nil
	d.catching = false
	sort.SliceStable(merged, func(i, j int) bool { return seqOf(merged[i]) < seqOf(merged[j]) })
	lo0, next0, any0 := d.lo, d.next, d.any
	var out []protocol.MessagingEvent
	for _, ev := range merged {
		seq, ok := ev.Seq()
		switch {
		case !ok:
			continue // held-back chat states are stale by now
		case any0 && seq >= lo0 && seq < next0:
			continue // delivered before
		case len(out) > 0 && seqOf(out[len(out)-1]) == seq:
			continue // in both history and held-back events
		}
		if !d.any {
			d.lo, d.next, d.any = seq, seq+1, true
		} else {
			d.lo = min(d.lo, seq)
			d.next = max(d.next, seq+1)
		}
		out = append(out, ev)
	}
	a.mu.Unlock()
	for _, ev := range out {
		if !a.emit(ctx, EventUpdate{Event: ev}) {
			return
		}
	}
}

// handle runs on the socket's delivery goroutine, one notification at a
// time, in order.
func (a *Agent) handle(ctx context.Context, gen uint64, f protocol.Frame, _ time.Time) {
	switch protocol.Canonical(f.Type) {
	case protocol.TypeRoutingTaskNotification:
		var n protocol.RoutingTaskNotification
		if err := f.DecodeBody(&n); err != nil {
			a.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		for _, ch := range n.Changes {
			if !a.emit(ctx, RoutingUpdate{Change: ch}) {
				return
			}
		}
	case protocol.TypeAgentExConversationChange, protocol.TypeExConversationChange:
		var n protocol.ExConversationChangeNotification
		if err := f.DecodeBody(&n); err != nil {
			a.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		for _, ch := range n.Changes {
			if !admitConversation(&a.mu, a.convSeen, ch) {
				continue
			}
			if ch.Type == protocol.ChangeDelete || ch.Result.ConversationDetails.Stage == protocol.StateClose {
				// A closed conversation has no more events: stop catching up.
				a.forgetConversation(ch.Result)
			}
			if !a.emit(ctx, ConversationUpdate{Change: ch}) {
				return
			}
		}
	case protocol.TypeOnlineEventDistribution:
		var ev protocol.MessagingEvent
		if err := f.DecodeBody(&ev); err != nil {
			a.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		a.live(ctx, gen, ev)
	case protocol.TypeMessagingEventNotification:
		var n protocol.MessagingEventNotification
		if err := f.DecodeBody(&n); err != nil {
			a.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		for _, ev := range n.Changes {
			a.live(ctx, gen, ev)
		}
	default:
		a.emit(ctx, NotificationUpdate{Frame: f})
	}
}

func (a *Agent) forgetConversation(r protocol.ConversationResult) {
	ids := []string{r.ConvID}
	for _, d := range r.ConversationDetails.Dialogs {
		ids = append(ids, d.DialogID)
	}
	for _, id := range ids {
		a.Unfollow(id)
	}
}

// live delivers one live event: chat states at once; stored events once,
// in order, held back while their dialog is being caught up. A dialog seen
// for the first time is tracked from here on, so it is caught up after a
// reconnect.
func (a *Agent) live(ctx context.Context, gen uint64, ev protocol.MessagingEvent) {
	seq, ok := ev.Seq()
	if !ok {
		a.emit(ctx, EventUpdate{Event: ev})
		return
	}
	a.mu.Lock()
	d, tracked := a.dialogs[ev.DialogID]
	if !tracked {
		d = &agentDialog{}
		a.dialogs[ev.DialogID] = d
		// Received on this connection: nothing to catch up on it.
		dialogID := ev.DialogID
		a.itemSeq++
		a.items["dialog:"+dialogID] = &item{
			key: "dialog:" + dialogID, prio: prioDialogs, seq: a.itemSeq, gen: gen,
			apply: a.catchUp(dialogID, func(d *agentDialog) int64 { return d.next }),
		}
	}
	switch {
	case d.catching:
		d.pending = append(d.pending, ev)
		a.mu.Unlock()
		return
	case d.any && seq < d.next:
		a.mu.Unlock()
		return // delivered before
	}
	if d.any && seq > d.next {
		a.log.Warn("messaging: sequence gap", "dialog_id", ev.DialogID, "expected", d.next, "got", seq)
	}
	if !d.any {
		d.lo, d.any = seq, true
	}
	d.next = seq + 1
	a.mu.Unlock()
	a.emit(ctx, EventUpdate{Event: ev})
}

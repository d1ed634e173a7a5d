package messaging

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Endpoints Endpoints
	// Token is asked for a token before the first connection and after the
	// service refused one. Required.
	Token TokenSource
	// InitConnection authenticates with an InitConnection request instead
	// of the Authorization header.
	InitConnection bool
	// ClientProperties are announced on connect; nil means
	// DefaultClientProperties.
	ClientProperties *protocol.Header
	HTTPClient       *http.Client
	RequestTimeout   time.Duration // 0 means DefaultRequestTimeout
	PingInterval     time.Duration // 0 means DefaultPingInterval
	// Tap sees every frame (see DialOptions.Tap).
	Tap func(out bool, data []byte)
	SessionOptions
}

// Consumer is a consumer's reconnecting messaging session. Its requests
// fail fast with ErrNotConnected while no socket is open; its subscriptions
// (SubscribeConversations, Follow) are remembered and restored on every
// connection, conversations first, then each followed dialog from the
// sequence after the last one delivered, so that across reconnects no
// event is lost or delivered twice.
//
// Everything arrives on Updates, in order.
type Consumer struct {
	*session
	cfg ConsumerConfig

	// Guarded by session.mu.
	token    string
	props    *protocol.Header      // client properties of the next connection
	dialogs  map[string]*dialogSeq // followed dialogs
	convSeen map[string]int64      // conversation id → newest metaDataLastUpdateTs delivered
	attempts uint64                // subscription requests sent, for dialogSeq.attempt
}

// dialogSeq tracks what was delivered of one followed dialog. Sequences
// arrive in order on a subscription; next is one past the highest
// delivered.
type dialogSeq struct {
	conversationID string
	next           int64
	any            bool // something was delivered; next is meaningful
	// subscribed: the answer to this socket's subscription has been
	// reached in the stream, so what follows for the dialog is its replay,
	// then live events. Before it, the dialog's events come from the
	// socket's implicit subscription (the socket created the conversation:
	// docs/protocol.md, Messaging events), and the replay that follows the
	// answer carries them again; only the one expected next is taken then,
	// so that nothing is delivered out of order or twice.
	subscribed bool
	attempt    uint64 // the subscription request that sets subscribed
}

// Item priorities: the order in which a new connection restores them (the
// agent's state and routing first, on the agent side), the conversation
// subscription before the dialogs (docs/protocol.md, Reconnect).
const (
	prioAgentState = iota
	prioRouting
	prioConversations
	prioDialogs
)

// NewConsumer builds a Consumer; Run connects it.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if cfg.Token == nil {
		return nil, fmt.Errorf("new consumer: no token source")
	}
	if cfg.Endpoints.AsyncMessagingEnt == "" || cfg.Endpoints.Account == "" {
		return nil, fmt.Errorf("new consumer: endpoints lack the messaging host or account")
	}
	if cfg.ClientProperties == nil {
		cfg.ClientProperties = DefaultClientProperties()
	}
	c := &Consumer{
		session:  newSession(cfg.SessionOptions),
		cfg:      cfg,
		props:    cfg.ClientProperties,
		dialogs:  map[string]*dialogSeq{},
		convSeen: map[string]int64{},
	}
	c.session.token = func(ctx context.Context) (string, error) {
		t, err := cfg.Token(ctx)
		if err == nil {
			c.mu.Lock()
			c.token = t
			c.mu.Unlock()
		}
		return t, err
	}
	c.session.dial = func(ctx context.Context, token string, onNote func(protocol.Frame, time.Time)) (*Conn, error) {
		c.mu.Lock()
		props := c.props
		c.mu.Unlock()
		return Dial(ctx, cfg.Endpoints.ConsumerURL(), DialOptions{
			Token:            token,
			InitConnection:   cfg.InitConnection,
			ClientProperties: props,
			HTTPClient:       cfg.HTTPClient,
			Logger:           c.log,
			RequestTimeout:   cfg.RequestTimeout,
			PingInterval:     cfg.PingInterval,
			OnNotification:   onNote,
			Tap:              cfg.Tap,
			readByCaller:     true,
		})
	}
	c.session.handle = c.handle
	return c, nil
}

// Run keeps the consumer connected until ctx ends (then it returns nil) or
// it gives up (see session errors: refused credentials, too many refused
// tokens). Call it once; Updates is closed when it returns.
func (c *Consumer) Run(ctx context.Context) error { return c.run(ctx) }

// SetClientProperties replaces the client properties announced from the
// next connection on (the customer's browser, known once a tab attached).
func (c *Consumer) SetClientProperties(p *protocol.Header) {
	if p == nil {
		return
	}
	c.mu.Lock()
	c.props = p
	c.mu.Unlock()
}

// Token is the token of the current (or last) connection.
func (c *Consumer) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// RequestConversation opens a conversation and returns its id (also the
// MAIN dialog's id). Not idempotent: a retry after a lost response may get
// 409 with the open conversation's id in the text.
func (c *Consumer) RequestConversation(ctx context.Context, req protocol.ConsumerRequestConversation) (string, error) {
	var resp protocol.RequestConversationResponse
	if err := c.request(ctx, protocol.TypeConsumerRequestConversation, req, &resp); err != nil {
		return "", err
	}
	if resp.ConversationID == "" {
		return "", fmt.Errorf("%s: response has no conversationId", protocol.TypeConsumerRequestConversation)
	}
	return resp.ConversationID, nil
}

// SubscribeConversations subscribes to the consumer's conversations (cqm):
// a snapshot, then every change, as ConversationUpdates. The subscription
// is restored (with the same filter) after every reconnect, which sends a
// new snapshot; updates older than one already delivered are dropped. A
// zero filter means open and closed conversations.
func (c *Consumer) SubscribeConversations(ctx context.Context, filter protocol.SubscribeExConversations) error {
	if len(filter.ConvState) == 0 && len(filter.Stage) == 0 {
		filter.ConvState = protocol.Strings{protocol.StateOpen, protocol.StateClose}
		filter.Stage = protocol.Strings{protocol.StateOpen, protocol.StateClose}
	}
	return c.ensure(ctx, "cqm", prioConversations, func(ctx context.Context, conn *Conn) error {
		var resp protocol.SubscriptionResponse
		return conn.Request(ctx, protocol.TypeSubscribeExConversations, filter, &resp)
	})
}

// Follow subscribes to a dialog's messaging events from fromSeq on (0 for
// the whole history). Its events arrive as EventUpdates, each sequence
// once, in order; after a reconnect the subscription resumes from the
// sequence after the last one delivered. Following a dialog again does
// nothing. Without a socket the dialog is subscribed on the next
// connection. A refusal by the service (e.g. 404) is returned and the
// dialog is not followed. Events of a dialog not followed (the implicit
// subscription of a conversation this socket created) are not delivered:
// following it replays them.
func (c *Consumer) Follow(ctx context.Context, dialogID, conversationID string, fromSeq int64) error {
	c.mu.Lock()
	if _, ok := c.dialogs[dialogID]; !ok {
		c.dialogs[dialogID] = &dialogSeq{conversationID: conversationID, next: fromSeq}
	}
	c.mu.Unlock()
	err := c.ensure(ctx, "dialog:"+dialogID, prioDialogs, func(ctx context.Context, conn *Conn) error {
		c.mu.Lock()
		d, ok := c.dialogs[dialogID]
		var body protocol.SubscribeMessagingEvents
		var attempt uint64
		if ok {
			body = protocol.SubscribeMessagingEvents{DialogID: dialogID, ConversationID: d.conversationID, FromSeq: d.next}
			c.attempts++
			attempt = c.attempts
			d.subscribed, d.attempt = false, attempt
		}
		c.mu.Unlock()
		if !ok {
			return nil // unfollowed meanwhile
		}
		return conn.requestInOrder(ctx, protocol.TypeSubscribeMessagingEvents, body, nil, func(resp protocol.Frame) {
			if resp.Code >= 400 {
				return
			}
			c.mu.Lock()
			if d, ok := c.dialogs[dialogID]; ok && d.attempt == attempt {
				d.subscribed = true
			}
			c.mu.Unlock()
		})
	})
	if Classify(err) == GiveUp {
		c.mu.Lock()
		delete(c.dialogs, dialogID)
		c.mu.Unlock()
	}
	return err
}

// LastSequence is the highest sequence delivered for a followed dialog.
func (c *Consumer) LastSequence(dialogID string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dialogs[dialogID]
	if !ok || !d.any {
		return 0, false
	}
	return d.next - 1, true
}

// Publish publishes an event to a dialog and returns its sequence (0 for
// chat states, which are not stored). The event also comes back as an
// EventUpdate, like everyone's. Not idempotent.
func (c *Consumer) Publish(ctx context.Context, dialogID, conversationID string, ev protocol.Event) (int64, error) {
	var resp protocol.PublishEventResponse
	body := protocol.PublishEvent{DialogID: dialogID, ConversationID: conversationID, Event: ev}
	if err := c.request(ctx, protocol.TypePublishEvent, body, &resp); err != nil {
		return 0, err
	}
	return resp.Sequence, nil
}

// CloseConversation closes the conversation (Close Conversation): its
// state, the MAIN dialog, which starts the post-conversation survey where
// the brand has one; without one the conversation ends.
func (c *Consumer) CloseConversation(ctx context.Context, conversationID string) error {
	return c.updateField(ctx, conversationID, protocol.ConversationField{
		Field:             protocol.FieldConversationState,
		ConversationState: protocol.StateClose,
	})
}

// EndConversation closes the whole conversation, every dialog at once,
// with no survey (PCS, Additional Notes: the Stage field).
func (c *Consumer) EndConversation(ctx context.Context, conversationID string) error {
	return c.updateField(ctx, conversationID, protocol.ConversationField{
		Field:             protocol.FieldStage,
		ConversationState: protocol.StateClose,
	})
}

// CloseDialog closes only one dialog (MULTI_DIALOG): closing the MAIN
// dialog starts the post-conversation survey dialog.
func (c *Consumer) CloseDialog(ctx context.Context, conversationID, dialogID, cause string) error {
	return c.updateField(ctx, conversationID, protocol.ConversationField{
		Field:  protocol.FieldDialogChange,
		Type:   "UPDATE",
		Dialog: &protocol.DialogChange{DialogID: dialogID, State: protocol.StateClose, ClosedCause: cause},
	})
}

// RateCSAT answers the legacy satisfaction survey of a closed
// conversation: rate 1..5, status FILLED, PARTIALLY_FILLED or SKIPPED.
func (c *Consumer) RateCSAT(ctx context.Context, conversationID string, rate int, resolved bool, status string) error {
	if status == "" {
		status = "FILLED"
	}
	return c.updateField(ctx, conversationID, protocol.ConversationField{
		Field:                      protocol.FieldCSATRate,
		CSATRate:                   rate,
		CSATResolutionConfirmation: &resolved,
		Status:                     status,
	})
}

func (c *Consumer) updateField(ctx context.Context, conversationID string, f protocol.ConversationField) error {
	body := protocol.UpdateConversationField{
		ConversationID:    conversationID,
		ConversationField: protocol.List[protocol.ConversationField]{f},
	}
	return c.request(ctx, protocol.TypeUpdateConversationField, body, nil)
}

// GetUserProfile asks for a participant's profile: for a consumer, the
// assigned agent's (its nickname is the name the window shows).
func (c *Consumer) GetUserProfile(ctx context.Context, userID string) (protocol.UserProfile, error) {
	var p protocol.UserProfile
	err := c.request(ctx, protocol.TypeGetUserProfile, userID, &p)
	return p, err
}

// GetClock asks the service's time in epoch ms.
func (c *Consumer) GetClock(ctx context.Context) (int64, error) {
	conn, err := c.conn()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", protocol.TypeGetClock, err)
	}
	return conn.GetClock(ctx)
}

// handle runs on the socket's delivery goroutine, one notification at a
// time, in order.
func (c *Consumer) handle(ctx context.Context, _ uint64, f protocol.Frame, received time.Time) {
	switch protocol.Canonical(f.Type) {
	case protocol.TypeMessagingEventNotification:
		var n protocol.MessagingEventNotification
		if err := f.DecodeBody(&n); err != nil {
			c.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		for _, ev := range n.Changes {
			if c.admitEvent(ev) && !c.emit(ctx, EventUpdate{Event: ev, Received: received}) {
				return
			}
		}
	case protocol.TypeExConversationChange:
		var n protocol.ExConversationChangeNotification
		if err := f.DecodeBody(&n); err != nil {
			c.log.Warn("messaging: bad notification ignored", "error", err)
			return
		}
		for _, ch := range n.Changes {
			if admitConversation(&c.mu, c.convSeen, ch) && !c.emit(ctx, ConversationUpdate{Change: ch, Received: received}) {
				return
			}
		}
	default:
		c.emit(ctx, NotificationUpdate{Frame: f})
	}
}

// admitEvent decides whether an event is new and records it as delivered.
// Only the delivery goroutine delivers events, so recording before the
// send keeps the record and the stream in step.
func (c *Consumer) admitEvent(ev protocol.MessagingEvent) bool {
	seq, ok := ev.Seq()
	if !ok {
		return true // chat states: never stored, never replayed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dialogs[ev.DialogID]
	if !ok {
		// Not followed: only an implicit subscription sends these, and
		// Follow's replay delivers them when the dialog is followed.
		return false
	}
	if !d.subscribed && seq != d.next {
		return false // implicit, ahead of or behind what is due: the replay brings it in order
	}
	if d.any && seq < d.next {
		return false // already delivered (a replay overlapping what we had)
	}
	if seq > d.next {
		c.log.Warn("messaging: sequence gap", "dialog_id", ev.DialogID, "expected", d.next, "got", seq)
	}
	d.next, d.any = seq+1, true
	return true
}

// admitConversation drops a change older than one already delivered for
// the same conversation (by metaDataLastUpdateTs, else lastUpdateTime).
func admitConversation(mu *sync.Mutex, seen map[string]int64, ch protocol.ConversationChange) bool {
	ts := ch.Result.ConversationDetails.MetaDataLastUpdateTs
	if ts == 0 {
		ts = ch.Result.LastUpdateTime
	}
	if ts == 0 {
		return true
	}
	mu.Lock()
	defer mu.Unlock()
	if last, ok := seen[ch.Result.ConvID]; ok && ts < last {
		return false
	}
	seen[ch.Result.ConvID] = ts
	return true
}

// Package demobot is the demo bot of chatwindow: an agent that takes the
// conversations no person has accepted within a delay, greets, shows
// typing, answers a few keywords, sends quick replies and a structured
// content card, reads the customer's messages (its own ACCEPT and READ
// receipts, so the window shows orange ticks) and closes on request.
//
// It is an ordinary agent: it logs in and speaks the agent API through
// messaging.Agent (docs/protocol.md, Agent side) with no back door into the
// service, so it runs the same against the embedded service and against
// LivePerson.
package demobot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Defaults of Config's optional fields.
const (
	DefaultTypingFor    = 800 * time.Millisecond
	DefaultReadAfter    = 400 * time.Millisecond
	DefaultCardImageURL = "https://upload.wikimedia.org/wikipedia/commons/thumb/4/47/PNG_transparency_demonstration_1.png/280px-PNG_transparency_demonstration_1.png"
	DefaultCardLinkURL  = "https://developers.liveperson.com/"
	// retryAfter is how long a conversation waits before it tries again to
	// read its history when that failed (the socket is down, say); a
	// reconnect wakes it earlier.
	retryAfter = time.Second
)

// Config configures the bot.
type Config struct {
	Endpoints messaging.Endpoints
	// Username and Password are the bot's agent login.
	Username, Password string
	// HTTPClient is used for login and the socket.
	HTTPClient *http.Client
	// Delay is how long a ring waits for a person before the bot accepts
	// it. Zero (or less) turns the bot off: Run returns nil at once
	// without logging in, so callers may pass the configured value as is.
	Delay time.Duration
	// Logger receives the bot's logs (and its messaging client's); nil
	// discards them.
	Logger *slog.Logger
	// TypingFor is how long the bot shows COMPOSING before it answers;
	// 0 means DefaultTypingFor.
	TypingFor time.Duration
	// ReadAfter is the pause between a message's ACCEPT and its READ, so
	// that the customer sees both ticks; 0 means DefaultReadAfter.
	ReadAfter time.Duration
	// CardImageURL and CardLinkURL are the card's image (https) and its
	// link button's target; empty means the defaults.
	CardImageURL, CardLinkURL string
	// Backoff is the messaging client's reconnection back-off (zero means
	// its default).
	Backoff messaging.Backoff
}

func (cfg *Config) fill() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TypingFor <= 0 {
		cfg.TypingFor = DefaultTypingFor
	}
	if cfg.ReadAfter <= 0 {
		cfg.ReadAfter = DefaultReadAfter
	}
	if cfg.CardImageURL == "" {
		cfg.CardImageURL = DefaultCardImageURL
	}
	if cfg.CardLinkURL == "" {
		cfg.CardLinkURL = DefaultCardLinkURL
	}
}

// Run logs the bot in, sets it ONLINE, and serves rings and conversations
// until ctx ends (then it returns nil) or the messaging client gives up
// (wrong password, unknown account: the error is returned). With a Delay
// of zero or less the bot is off and Run returns nil at once.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Delay <= 0 {
		return nil
	}
	cfg.fill()
	agent, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints:  cfg.Endpoints,
		Username:   cfg.Username,
		Password:   cfg.Password,
		HTTPClient: cfg.HTTPClient,
		SessionOptions: messaging.SessionOptions{
			Logger:  cfg.Logger,
			Backoff: cfg.Backoff,
		},
	})
	if err != nil {
		return fmt.Errorf("demo bot: %w", err)
	}
	// Registered before the first connection: the client applies them on
	// every connection, in order (state, rings, conversations).
	if err := agent.SetAgentState(ctx, protocol.AgentOnline); err != nil {
		return fmt.Errorf("demo bot: set ONLINE: %w", err)
	}
	if err := agent.SubscribeRoutingTasks(ctx); err != nil {
		return fmt.Errorf("demo bot: subscribe to rings: %w", err)
	}
	// The whole brand's open conversations: the bot's own are those that
	// name it ASSIGNED_AGENT (its old id is not known before login).
	if err := agent.SubscribeConversations(ctx, protocol.SubscribeExConversations{}); err != nil {
		return fmt.Errorf("demo bot: subscribe to conversations: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &bot{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "demobot"),
		agent:   agent,
		rings:   map[string]context.CancelFunc{},
		convs:   map[string]*conversation{},
		dialogs: map[string]string{},
		fire:    make(chan string),
	}
	runErr := make(chan error, 1)
	// Ends when ctx ends or the client gives up; Updates is closed then.
	go func() { runErr <- agent.Run(ctx) }()
	b.loop(ctx)
	cancel()
	b.wg.Wait()
	err = <-runErr
	if err != nil {
		return fmt.Errorf("demo bot: %w", err)
	}
	return nil
}

// bot is the state of one Run. Only loop's goroutine touches the maps.
type bot struct {
	cfg   Config
	log   *slog.Logger
	agent *messaging.Agent

	rings   map[string]context.CancelFunc // waiting rings → stop their timer
	convs   map[string]*conversation      // the bot's open conversations
	dialogs map[string]string             // dialog id → conversation id
	fire    chan string                   // rings whose delay has run out

	// wg counts ring timers, ring accepts and conversation workers.
	wg sync.WaitGroup
}

// loop handles the client's updates and the ring timers until Updates is
// closed (Run's ctx ended or the client gave up).
func (b *bot) loop(ctx context.Context) {
	updates := b.agent.Updates()
	defer func() {
		for _, stop := range b.rings {
			stop()
		}
		for _, c := range b.convs {
			c.stop()
		}
	}()
	for {
		select {
		case u, ok := <-updates:
			if !ok {
				return
			}
			b.update(ctx, u)
		case id := <-b.fire:
			b.ringDue(ctx, id)
		}
	}
}

func (b *bot) update(ctx context.Context, u messaging.Update) {
	switch u := u.(type) {
	case messaging.StateChange:
		b.log.Debug("demo bot: connection", "state", u.State, "error", u.Err)
		if u.State == messaging.StateOpen {
			// Publishes may have failed while the socket was down: every
			// conversation reads its history again.
			for _, c := range b.convs {
				c.resync()
			}
		}
	case messaging.RoutingUpdate:
		b.ring(ctx, u.Change)
	case messaging.ConversationUpdate:
		b.conversation(ctx, u.Change)
	case messaging.EventUpdate:
		b.event(u.Event)
	}
}

// ring starts the delay of a new WAITING ring, and stops it when the ring
// ends otherwise (accepted by someone else, cancelled, expired).
func (b *bot) ring(ctx context.Context, ch protocol.RoutingTaskChange) {
	for _, r := range ch.Result.RingsDetails {
		waiting := r.RingState == protocol.RingWaiting && !ch.Result.TaskCompleted && ch.Type != protocol.ChangeDelete
		stop, tracked := b.rings[r.RingID]
		switch {
		case waiting && !tracked:
			b.log.Debug("demo bot: ring, waiting for a person", "ring_id", r.RingID, "conversation_id", ch.Result.ConversationID, "delay", b.cfg.Delay)
			b.startTimer(ctx, r.RingID)
		case !waiting && tracked:
			stop()
			delete(b.rings, r.RingID)
			b.log.Info("demo bot: ring ended before the delay, left alone", "ring_id", r.RingID, "conversation_id", ch.Result.ConversationID, "ring_state", r.RingState)
		}
	}
}

func (b *bot) startTimer(ctx context.Context, ringID string) {
	rctx, stop := context.WithCancel(ctx)
	b.rings[ringID] = stop
	b.wg.Add(1)
	// Ends when the delay has run out and loop took the ring, or when the
	// ring ended meanwhile or Run is ending (rctx).
	go func() {
		defer b.wg.Done()
		t := time.NewTimer(b.cfg.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-rctx.Done():
			return
		}
		select {
		case b.fire <- ringID:
		case <-rctx.Done():
		}
	}()
}

// ringDue accepts a ring still waiting after the delay.
func (b *bot) ringDue(ctx context.Context, ringID string) {
	stop, ok := b.rings[ringID]
	if !ok {
		return // ended meanwhile
	}
	stop()
	delete(b.rings, ringID)
	b.wg.Add(1)
	// Ends with the request (bounded by the client's request timeout).
	go func() {
		defer b.wg.Done()
		err := b.agent.AcceptRing(ctx, ringID)
		var pe *protocol.Error
		switch {
		case err == nil:
			b.log.Info("demo bot: ring accepted", "ring_id", ringID)
		case ctx.Err() != nil:
		case errors.As(err, &pe) && (pe.Code == http.StatusNotFound || pe.Code == http.StatusConflict):
			// Someone was quicker (or the ring expired) and the
			// notification has not arrived yet.
			b.log.Info("demo bot: ring gone before it could be accepted", "ring_id", ringID, "error", err)
		default:
			b.log.Warn("demo bot: accept ring failed", "ring_id", ringID, "error", err)
		}
	}()
}

// conversation starts serving a conversation that names the bot its
// ASSIGNED_AGENT, and stops when it closes or the bot is no longer its
// agent.
func (b *bot) conversation(ctx context.Context, ch protocol.ConversationChange) {
	r := ch.Result
	d := r.ConversationDetails
	c := b.convs[r.ConvID]
	mine := ch.Type != protocol.ChangeDelete && d.Stage != protocol.StateClose && d.State != protocol.StateClose && b.assigned(d)
	if !mine {
		if c != nil {
			b.log.Info("demo bot: conversation no longer mine", "conversation_id", r.ConvID, "stage", d.Stage)
			c.stop()
			delete(b.convs, r.ConvID)
			for id, conv := range b.dialogs {
				if conv == r.ConvID {
					delete(b.dialogs, id)
				}
			}
		}
		return
	}
	main, consumer := r.ConvID, ""
	for _, dl := range d.Dialogs {
		if dl.DialogType == protocol.DialogMain || (dl.DialogType == "" && dl.DialogID == r.ConvID) {
			main = dl.DialogID
		}
	}
	for _, p := range d.Members() {
		if p.Role == protocol.RoleConsumer {
			consumer = p.ID
		}
	}
	if c != nil {
		return
	}
	b.log.Info("demo bot: serving conversation", "conversation_id", r.ConvID, "dialog_id", main)
	cctx, cancel := context.WithCancel(ctx)
	c = newConversation(b, r.ConvID, main, consumer, cancel)
	b.convs[r.ConvID] = c
	b.dialogs[main] = r.ConvID
	b.wg.Add(1)
	// Ends when the conversation is no longer the bot's (stop) or Run
	// ends.
	go func() {
		defer b.wg.Done()
		defer cancel()
		c.run(cctx)
	}()
}

// assigned reports whether the bot is the conversation's ASSIGNED_AGENT.
func (b *bot) assigned(d protocol.ConversationDetails) bool {
	pid, old := b.agent.PID(), b.agent.OldID()
	for _, p := range d.Members() {
		if p.Role == protocol.RoleAssignedAgent && (p.ID == pid || p.ID == old) {
			return true
		}
	}
	for _, p := range d.Participants.List {
		if p.Role == protocol.RoleAssignedAgent && p.ID == old {
			return true
		}
	}
	return false
}

// event hands an event of one of the bot's dialogs to its conversation.
// Events of dialogs it does not serve (yet) are dropped: a conversation
// starts by reading its history, which holds them.
func (b *bot) event(ev protocol.MessagingEvent) {
	convID, ok := b.dialogs[ev.DialogID]
	if !ok {
		return
	}
	if c := b.convs[convID]; c != nil {
		c.push(ev)
	}
}

// fromBot reports whether the bot published ev.
func (b *bot) fromBot(ev protocol.MessagingEvent) bool {
	pid, old := b.agent.PID(), b.agent.OldID()
	return (pid != "" && (ev.OriginatorPID == pid || ev.Originator() == pid)) || (old != "" && ev.OriginatorID == old)
}

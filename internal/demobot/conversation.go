package demobot

import (
	"context"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// conversation serves one of the bot's conversations on its own goroutine,
// one event at a time, so that several conversations go on at once and
// each answers in order.
//
// What has been done is read from the dialog's history as well as
// remembered: a consumer message the bot has READ (its own receipt in the
// history) counts as handled, and the bot greets only when it has said
// nothing yet. So the bot answers each message at most once, across
// reconnects and even across restarts of the bot. The price: a message
// whose answer failed to publish after its READ went out stays unanswered
// (one missing answer rather than two).
type conversation struct {
	b        *bot
	id       string
	dialogID string
	consumer string // the consumer's id, when the metadata named it

	// cancel ends run; set before run starts, called by the bot's loop.
	cancel context.CancelFunc

	mu        sync.Mutex
	queue     []protocol.MessagingEvent
	resyncReq bool
	wake      chan struct{} // capacity 1: "something is queued"

	// Owned by run's goroutine.
	greeted  bool
	closing  bool
	handled  map[int64]bool // consumer messages taken care of
	accepted map[int64]bool // sequences the bot sent ACCEPT for
	read     map[int64]bool // sequences the bot sent READ for
}

func newConversation(b *bot, id, dialogID, consumer string, cancel context.CancelFunc) *conversation {
	return &conversation{
		b: b, id: id, dialogID: dialogID, consumer: consumer, cancel: cancel,
		wake:     make(chan struct{}, 1),
		handled:  map[int64]bool{},
		accepted: map[int64]bool{},
		read:     map[int64]bool{},
	}
}

// stop ends run (and any request it is making).
func (c *conversation) stop() { c.cancel() }

// push queues a live event.
func (c *conversation) push(ev protocol.MessagingEvent) {
	c.mu.Lock()
	c.queue = append(c.queue, ev)
	c.mu.Unlock()
	c.poke()
}

// resync asks run to read the dialog's history again.
func (c *conversation) resync() {
	c.mu.Lock()
	c.resyncReq = true
	c.mu.Unlock()
	c.poke()
}

func (c *conversation) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run reads the history (greeting and answering what is pending), then
// handles live events until ctx ends (stop cancels it).
func (c *conversation) run(ctx context.Context) {
	synced := false
	for ctx.Err() == nil {
		if !synced {
			if err := c.sync(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.b.log.Debug("demo bot: read history failed, retrying", "conversation_id", c.id, "error", err)
				c.sleepOrWake(ctx, retryAfter)
				continue
			}
			synced = true
		}
		c.mu.Lock()
		queue := c.queue
		c.queue = nil
		if c.resyncReq {
			c.resyncReq = false
			synced = false
		}
		c.mu.Unlock()
		for _, ev := range queue {
			c.live(ctx, ev)
		}
		if !synced {
			continue
		}
		c.mu.Lock()
		idle := len(c.queue) == 0 && !c.resyncReq
		c.mu.Unlock()
		if idle {
			select {
			case <-c.wake:
			case <-ctx.Done():
			}
		}
	}
}

// sleepOrWake waits d, or less when woken (a reconnect, an event).
func (c *conversation) sleepOrWake(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.wake:
	case <-ctx.Done():
	}
}

// sync reads the dialog's history: first what the bot already did, then
// it greets if it has not and handles the consumer messages it has not
// READ.
func (c *conversation) sync(ctx context.Context) error {
	history, err := c.b.agent.QueryMessages(ctx, c.dialogID, 0)
	if err != nil {
		return err
	}
	for _, ev := range history {
		c.note(ev)
	}
	if !c.greeted && !c.closing {
		c.greet(ctx)
	}
	for _, ev := range history {
		if c.pending(ev) {
			c.handle(ctx, ev)
		}
	}
	return nil
}

// live handles one live event.
func (c *conversation) live(ctx context.Context, ev protocol.MessagingEvent) {
	c.note(ev)
	if c.pending(ev) {
		c.handle(ctx, ev)
	}
}

// note records what the bot itself did: its receipts and its messages.
func (c *conversation) note(ev protocol.MessagingEvent) {
	if !c.b.fromBot(ev) {
		return
	}
	switch ev.Event.Type {
	case protocol.EventAcceptStatus:
		for _, s := range ev.Event.SequenceList {
			switch ev.Event.Status {
			case protocol.StatusAccept:
				c.accepted[s] = true
			case protocol.StatusRead:
				c.read[s] = true
			}
		}
	case protocol.EventContent, protocol.EventRichContent:
		c.greeted = true
	}
}

// pending reports a consumer's content message not yet handled.
func (c *conversation) pending(ev protocol.MessagingEvent) bool {
	seq, ok := ev.Seq()
	if !ok || c.closing || !ev.Event.IsContent() || c.b.fromBot(ev) || !c.fromConsumer(ev) {
		return false
	}
	return !c.handled[seq] && !c.read[seq]
}

// fromConsumer reports an event of the conversation's consumer (not of
// another agent, a manager say).
func (c *conversation) fromConsumer(ev protocol.MessagingEvent) bool {
	if ev.OriginatorMetadata != nil && ev.OriginatorMetadata.Role != "" {
		return ev.OriginatorMetadata.Role == protocol.RoleConsumer
	}
	return c.consumer != "" && (ev.OriginatorID == c.consumer || ev.Originator() == c.consumer)
}

// greet shows typing, then says hello with quick replies.
func (c *conversation) greet(ctx context.Context) {
	if c.say(ctx, greeting()) {
		c.greeted = true
	}
}

// handle receipts a consumer message (ACCEPT, a pause, READ) and answers
// it. It is handled once its READ is out.
func (c *conversation) handle(ctx context.Context, ev protocol.MessagingEvent) {
	seq, _ := ev.Seq()
	if !c.accepted[seq] {
		if !c.receipt(ctx, protocol.StatusAccept, seq) {
			return
		}
		c.accepted[seq] = true
		if !sleep(ctx, c.b.cfg.ReadAfter) {
			return
		}
	}
	if !c.read[seq] {
		if !c.receipt(ctx, protocol.StatusRead, seq) {
			return
		}
		c.read[seq] = true
	}
	c.handled[seq] = true

	r := answer(ev.Event.Message, c.b.cfg)
	if !c.say(ctx, r) {
		return
	}
	if r.close {
		c.closing = true
		if err := c.b.agent.CloseConversation(ctx, c.id); err != nil && ctx.Err() == nil {
			c.b.log.Warn("demo bot: close failed", "conversation_id", c.id, "error", err)
			return
		}
		c.b.log.Info("demo bot: conversation closed on request", "conversation_id", c.id)
	}
}

// receipt publishes the bot's receipt of one message.
func (c *conversation) receipt(ctx context.Context, status string, seq int64) bool {
	_, err := c.b.agent.Publish(ctx, c.dialogID, protocol.Event{
		Type: protocol.EventAcceptStatus, Status: status, SequenceList: protocol.Seqs{seq},
	})
	if err != nil {
		if ctx.Err() == nil {
			c.b.log.Warn("demo bot: receipt failed", "conversation_id", c.id, "status", status, "sequence", seq, "error", err)
		}
		return false
	}
	return true
}

// say shows COMPOSING for TypingFor, publishes the reply's events, then
// ACTIVE (any state but COMPOSING ends the typing indicator).
func (c *conversation) say(ctx context.Context, r reply) bool {
	if !c.chatState(ctx, protocol.ChatComposing) || !sleep(ctx, c.b.cfg.TypingFor) {
		return false
	}
	for _, ev := range r.events {
		if _, err := c.b.agent.Publish(ctx, c.dialogID, ev); err != nil {
			if ctx.Err() == nil {
				c.b.log.Warn("demo bot: publish failed", "conversation_id", c.id, "type", ev.Type, "error", err)
			}
			return false
		}
	}
	c.chatState(ctx, protocol.ChatActive)
	return true
}

func (c *conversation) chatState(ctx context.Context, state string) bool {
	_, err := c.b.agent.Publish(ctx, c.dialogID, protocol.Event{Type: protocol.EventChatState, ChatState: state})
	if err != nil {
		if ctx.Err() == nil {
			c.b.log.Warn("demo bot: chat state failed", "conversation_id", c.id, "state", state, "error", err)
		}
		return false
	}
	return true
}

// sleep waits d unless ctx ends first (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

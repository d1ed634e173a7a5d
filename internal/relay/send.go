package relay

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

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
	if (s.conv.Phase != PhaseNew && !s.conv.Writable()) || s.forgetting {
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
	req := s.conversationRequest()
	live.Call(s.loop, func(ctx context.Context) (string, error) {
		id, err := s.up.RequestConversation(ctx, req)
		var perr *protocol.Error
		if errors.As(err, &perr) && perr.Code == 409 {
			// One was open after all: its id is in the text
			// (docs/protocol.md, Conversations: one open conversation).
			if open := uuidIn(perr.Text); open != "" {
				return open, nil
			}
		}
		return id, err
	}, func(id string, err error) {
		s.creating = false
		if err != nil {
			s.log.Warn("request conversation", "error", err)
			for _, l := range s.waiting {
				s.broadcast(s.conv.Failed(l))
			}
			s.waiting = nil
			s.conversationSettled(err)
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
		s.conversationSettled(nil)
	})
}

func (s *Session) sendWaiting() {
	if s.conv.ID == "" || len(s.waiting) == 0 {
		return
	}
	for _, l := range s.waiting {
		s.publishLocal(l)
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
	ev := protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAction, SequenceList: protocol.Seqs{seq}}
	live.Call(s.loop, func(ctx context.Context) (int64, error) {
		return s.up.PublishWithMetadata(ctx, dialogID, conv, ev, meta)
	}, func(_ int64, err error) {
		if err != nil {
			// The text still goes: it is the customer's answer.
			s.log.Warn("publish ACTION failed", "dialog_id", dialogID, "seq", seq, "error", err)
		}
	})
	s.nextLocal++
	localID := strconv.Itoa(s.nextLocal)
	s.broadcast(s.conv.Answering(localID, choice.Text, meta, s.cfg.Now()))
	s.publishText(localID, choice.Text)
}

func (s *Session) publishText(localID, text string) {
	s.publish(localID, "text", protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
}

// publish publishes the customer's local message as ev (what names it in
// logs: text, file): once the conversation exists, to the dialog it was
// written in, with the click metadata it answers; its outcome moves the
// message to sent, failed, or pending until the catch-up says.
func (s *Session) publish(localID, what string, ev protocol.Event) {
	conv := s.conv.ID
	if conv == "" {
		s.waiting = append(s.waiting, localID)
		s.createConversation()
		return
	}
	meta := s.conv.answerMetadata(localID)
	dialog := s.conv.target(localID)
	live.Call(s.loop, func(ctx context.Context) (int64, error) {
		return s.up.PublishWithMetadata(ctx, dialog, conv, ev, meta)
	}, func(seq int64, err error) {
		switch messaging.Classify(err) {
		case messaging.OK:
			delete(s.unsure, localID)
			s.broadcast(s.conv.Sent(localID, dialog, seq, s.cfg.Now()))
		case messaging.Retry, messaging.RefreshToken:
			// The socket died or no answer came (the message may have
			// landed), or the service refused the token, not the
			// message (the connection is getting a fresh one). It
			// stays pending until the catch-up says (its echo matched
			// by text), then goes out again only if it did not.
			s.log.Info("publish "+what+": not confirmed, settled after the catch-up", "conversation_id", conv, "dialog_id", dialog, "error", err)
			d := s.unsure[localID]
			d.tries += unanswered(err)
			d.resent = false // this send is over: the catch-up decides
			s.unsure[localID] = d
			s.syncSoon()
		case messaging.GiveUp:
			s.log.Info("publish "+what+" refused", "conversation_id", conv, "dialog_id", dialog, "error", err)
			delete(s.unsure, localID)
			s.broadcast(s.conv.Failed(localID))
		case messaging.Cancelled:
			// The session is ending: nobody is left to send it again.
		}
	})
	s.publishChatState(protocol.ChatActive)
}

// maxResends bounds how often a message is sent again, after sends that
// got no answer on a socket that stayed up (a timeout, the service
// failing), before it shows as failed (with its retry button). A send cut
// by a lost socket is not counted: the network broke, not the service,
// and the message waits for the next socket however many cuts that takes
// (docs/reliability.md, Fault run).
const maxResends = 3

// doubt is what is known of a local message whose publish got no answer.
type doubt struct {
	// tries counts its sends that count towards maxResends.
	tries int
	// resent: it was sent again and that send is not over (it waits in
	// the sender's queue for a socket, or for its answer). A catch-up
	// meanwhile decides nothing about it: sending it once more would put
	// it at the service twice when both sends go through.
	resent bool
}

// unanswered is what a send that failed as Retry or RefreshToken counts
// towards maxResends: 0 when its socket was lost under it (the socket
// closed, or ended refusing the token), 1 otherwise.
func unanswered(err error) int {
	if errors.Is(err, messaging.ErrClosed) || messaging.Classify(err) == messaging.RefreshToken {
		return 0
	}
	return 1
}

// syncSoon asks for a Sync barrier (see messaging.Consumer.Sync) unless one
// is coming: after it, the catch-up has shown every message that landed.
func (s *Session) syncSoon() {
	if s.loop.ReceiptsHeld() {
		return // a reconnect's Sync is on its way
	}
	s.sync()
}

// sync holds the receipts and asks for a Sync barrier: a reconnect's
// catch-up, or one for messages whose outcome is unknown. Its SyncUpdate
// releases them.
func (s *Session) sync() {
	s.loop.HoldReceipts()
	s.loop.Ops.Push(func(ctx context.Context) func() {
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
// sequence now); one sent again whose send is not over waits for it; any
// other is sent again, in the order they were written, or marked failed
// after maxResends. So a message lost in a cut is sent once,
// and never twice (the receipts' "never lost" of docs/protocol.md, Receipts,
// for the customer's own words).
func (s *Session) settleUnsure() {
	ids := slices.Collect(maps.Keys(s.unsure))
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	for _, id := range ids {
		d := s.unsure[id]
		m, ok := s.conv.Local(id)
		if !ok || m.HasSeq {
			delete(s.unsure, id)
			continue
		}
		if d.resent {
			continue // its last send has yet to say
		}
		if d.tries >= maxResends {
			delete(s.unsure, id)
			s.broadcast(s.conv.Failed(id))
			continue
		}
		d.resent = true
		s.unsure[id] = d
		s.publishLocal(id)
	}
}

func (s *Session) typing(state string) {
	switch state {
	case protocol.ChatComposing, protocol.ChatPause, protocol.ChatActive, protocol.ChatInactive:
	default:
		return
	}
	if s.conv.ID == "" || !s.conv.Writable() {
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

// publishChatState publishes the customer's chat state to the dialog they
// write in.
func (s *Session) publishChatState(state string) {
	conv, dialog := s.conv.ID, s.conv.Dialog()
	if conv == "" {
		return
	}
	s.loop.Ops.Push(func(ctx context.Context) func() {
		_, err := s.up.Publish(ctx, dialog, conv, protocol.Event{Type: protocol.EventChatState, ChatState: state})
		return func() {
			if err != nil {
				s.log.Debug("publish chat state", "state", state, "error", err)
			}
		}
	})
}

package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/richcontent"
)

// A click on a card's link opens it in the customer's browser, and the
// page tells the session, which publishes an ACTION receipt of the message
// with the click's metadata: LivePerson's sign that an element was
// clicked (docs/richcontent.md, "A link's click"). Unlike an answer, it
// publishes no text and leaves the message's choices open.

// ErrLink is a link click the conversation does not offer (wrapped with
// why).
var ErrLink = errors.New("not a link on offer")

// linkKey names one link of one message.
type linkKey struct {
	dialog string
	seq    int64
	index  int
}

// Follow checks a customer's click on link index of the agent message
// (dialogID, seq): the conversation is open (or in its survey), the
// message is in the dialog the customer writes in, it is the agent's, and
// it has that link. It returns the link as the agent sent it, and first:
// whether this is the link's first click in this session, the one whose
// ACTION is published (a second click, a double click, another tab's
// click only open the link again).
func (c *Conversation) Follow(dialogID string, seq int64, index int) (l richcontent.Link, first bool, err error) {
	if !c.Writable() {
		return l, false, fmt.Errorf("%w: the conversation is %s", ErrLink, c.Phase)
	}
	if dialogID != c.Dialog() {
		return l, false, fmt.Errorf("%w: dialog %s is not the one open", ErrLink, dialogID)
	}
	m, ok := c.log.Get(dialogID, seq)
	if !ok {
		return l, false, fmt.Errorf("%w: no message %s/%d", ErrLink, dialogID, seq)
	}
	if m.From != FromAgent {
		return l, false, fmt.Errorf("%w: message %d is not the agent's", ErrLink, seq)
	}
	if index < 0 || index >= len(m.Rich.Links) {
		return l, false, fmt.Errorf("%w: message %d has no link %d", ErrLink, seq, index)
	}
	k := linkKey{dialogID, seq, index}
	if c.followed[k] {
		return m.Rich.Links[index], false, nil
	}
	if c.followed == nil {
		c.followed = map[linkKey]bool{}
	}
	c.followed[k] = true
	return m.Rich.Links[index], true, nil
}

// unfollow forgets a link's click whose ACTION could not be published, so
// that the next click tries again.
func (c *Conversation) unfollow(dialogID string, seq int64, index int) {
	delete(c.followed, linkKey{dialogID, seq, index})
}

// link publishes the ACTION of a link's first click; a refused click is
// logged and dropped (the link opened in the browser all the same).
func (s *Session) link(c linkCmd) {
	l, first, err := s.conv.Follow(c.dialogID, c.seq, c.index)
	if err != nil {
		s.logRefused("link click refused", "dialog_id", c.dialogID, "seq", c.seq, "index", c.index, "error", err)
		return
	}
	if !first {
		return
	}
	conv, dialogID, seq, index := s.conv.ID, c.dialogID, c.seq, c.index
	ev := protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAction, SequenceList: protocol.Seqs{seq}}
	live.Call(s.loop, func(ctx context.Context) (int64, error) {
		return s.up.PublishWithMetadata(ctx, dialogID, conv, ev, l.Metadata)
	}, func(_ int64, err error) {
		if err != nil {
			s.log.Warn("publish a link's ACTION failed", "dialog_id", dialogID, "seq", seq, "error", err)
			s.conv.unfollow(dialogID, seq, index)
		}
	})
}

package relay

import (
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Tab is one browser tab's attachment to its session: its outbox (Out,
// Done, Reason), Detach, and the actions it passes to the session.
type Tab struct {
	*live.Tab[struct{}]
}

// Send publishes the customer's text (creating the conversation first if
// there is none).
func (t *Tab) Send(text string) { t.Do(sendCmd{text: text}) }

// Retry publishes a failed message again.
func (t *Tab) Retry(localID string) { t.Do(retryCmd{localID}) }

// Report records what a tab did with agent messages: "delivered" (inserted
// into the page) or "seen" (read by the customer).
func (t *Tab) Report(status string, items []receipts.Item) { t.Do(reportCmd{status, items}) }

// Action answers structured content: the customer clicked choice index
// (a quick reply or a card button) of the agent message (dialogID, seq);
// text is what the page showed on it (empty: not checked). The session
// checks the click against what the agent sent, then publishes an ACTION
// receipt for the message and the choice's text as the customer's message,
// both with the click's metadata (docs/richcontent.md).
func (t *Tab) Action(dialogID string, seq int64, index int, text string) {
	t.Do(actionCmd{dialogID: dialogID, seq: seq, index: index, text: text})
}

// Link tells the session that the customer clicked link index of a card
// of the agent message (dialogID, seq): the first click of each link
// publishes an ACTION receipt of the message with the click's metadata
// (docs/richcontent.md, "A link's click").
func (t *Tab) Link(dialogID string, seq int64, index int) {
	t.Do(linkCmd{dialogID: dialogID, seq: seq, index: index})
}

// Typing publishes the customer's chat state (COMPOSING, PAUSE, ACTIVE).
func (t *Tab) Typing(state string) { t.Do(typingCmd{state}) }

// CloseConversation ends the conversation.
func (t *Tab) CloseConversation() { t.Do(closeCmd{}) }

// Rate answers the legacy satisfaction survey of a closed conversation.
func (t *Tab) Rate(r Rating) { t.Do(rateCmd{r}) }

// NewConversation leaves a closed conversation for a fresh window.
func (t *Tab) NewConversation() { t.Do(newCmd{}) }

type (
	viewCmd   struct{ reply chan<- View }
	drainCmd  struct{}
	sendCmd   struct{ text string }
	retryCmd  struct{ localID string }
	reportCmd struct {
		status string
		items  []receipts.Item
	}
	typingCmd struct{ state string }
	actionCmd struct {
		dialogID string
		seq      int64
		index    int
		text     string
	}
	linkCmd struct {
		dialogID string
		seq      int64
		index    int
	}
	closeCmd   struct{}
	rateCmd    struct{ r Rating }
	newCmd     struct{}
	watchCmd   struct{ reply chan<- error }
	unwatchCmd struct{}
	forgetCmd  struct{}
)

package desks

import (
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Tab is one console tab's attachment to its desk: its outbox (Out, Done,
// Reason), Detach, and the actions it passes to the desk.
type Tab struct {
	*live.Tab[page]
}

// Accept answers a ring: the agent joins the conversation, which this tab
// then shows.
func (t *Tab) Accept(ringID string) { t.Do(acceptCmd{t.Tab, ringID}) }

// Decline rejects a ring: it goes to another agent of the skill, or rings
// again later.
func (t *Tab) Decline(ringID string) { t.Do(declineCmd{ringID}) }

// Retry publishes again an agent's message whose publish failed.
func (t *Tab) Retry(conversationID, localID string) { t.Do(retryCmd{t.Tab, conversationID, localID}) }

// Open shows a conversation in this tab.
func (t *Tab) Open(conversationID string) { t.Do(openCmd{t.Tab, conversationID}) }

// Send publishes the agent's text to a conversation (the tab's own when
// conversationID is empty).
func (t *Tab) Send(conversationID, text string) { t.Do(sendCmd{t.Tab, conversationID, text}) }

// Typing publishes the agent's chat state to the tab's conversation.
func (t *Tab) Typing(state string) { t.Do(typingCmd{t.Tab, state}) }

// Report records what the tab did with consumer messages: "delivered"
// (inserted into the page) or "seen" (read by the agent).
func (t *Tab) Report(status string, items []receipts.Item) { t.Do(reportCmd{status, items}) }

// Close closes a conversation (the tab's own when conversationID is empty).
func (t *Tab) Close(conversationID string) { t.Do(closeCmd{t.Tab, conversationID}) }

// Transfer hands a conversation (the tab's own when conversationID is
// empty) over to the agents of skill; no skill: back to the queue.
func (t *Tab) Transfer(conversationID, skill string) { t.Do(transferCmd{t.Tab, conversationID, skill}) }

// SignOut ends the desk.
func (t *Tab) SignOut() { t.Do(signOutCmd{}) }

type (
	viewCmd   struct{ reply chan<- View }
	acceptCmd struct {
		t      *live.Tab[page]
		ringID string
	}
	declineCmd struct{ ringID string }
	retryCmd   struct {
		t             *live.Tab[page]
		conv, localID string
	}
	openCmd struct {
		t    *live.Tab[page]
		conv string
	}
	sendCmd struct {
		t          *live.Tab[page]
		conv, text string
	}
	typingCmd struct {
		t     *live.Tab[page]
		state string
	}
	reportCmd struct {
		status string
		items  []receipts.Item
	}
	closeCmd struct {
		t    *live.Tab[page]
		conv string
	}
	signOutCmd  struct{}
	transferCmd struct {
		t           *live.Tab[page]
		conv, skill string
	}
)

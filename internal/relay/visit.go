package relay

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Visit is what the customer's browser says about itself when a tab
// attaches: its User-Agent and the page's language (the best of its
// Accept-Language). The session announces the browser in its client
// properties and the language in its conversation requests.
type Visit struct {
	UserAgent string
	Language  string
	// UI is the language the window speaks to this customer (a tag of
	// internal/i18n), for what the session renders.
	UI string
}

// AttachVisit is Attach for a tab whose browser said v: a session started
// by it announces v's browser (Config.ClientProperties), and the session's
// next conversation request carries v's language.
func (m *Manager) AttachVisit(id Identity, v Visit) (*Tab, error) {
	s, err := m.sessions.Ensure(id.SessionID, func() (*Session, error) { return m.startVisit(id, v) })
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	if v != (Visit{}) {
		s.loop.Do(visitCmd{v})
	}
	s.offerCookie(id)
	t, err := s.loop.Attach(struct{}{})
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return &Tab{t}, nil
}

// startVisit starts a session whose upstream announces v's browser.
func (m *Manager) startVisit(id Identity, v Visit) (*Session, error) {
	var props *protocol.Header
	if m.cfg.ClientProperties != nil && v.UserAgent != "" {
		props = m.cfg.ClientProperties(v.UserAgent)
	}
	return m.startWith(id, props)
}

// visitCmd records the visit of a tab that attached.
type visitCmd struct{ v Visit }

// clientPropertiesSetter is an upstream whose client properties can change
// before it connects (*messaging.Consumer).
type clientPropertiesSetter interface {
	SetClientProperties(*protocol.Header)
}

// conversationRequest is the session's cm.ConsumerRequestConversation: the
// configured campaign and engagement (campaignInfo), and the visit as a
// SharkContext (docs/protocol.md, Conversations). The visitor and session
// ids are derived from the session's id, one way: the cookie's session key
// never leaves this server, and the same browser session is the same
// visitor every time.
func (s *Session) conversationRequest() protocol.ConsumerRequestConversation {
	req := protocol.ConsumerRequestConversation{
		ChannelType: "MESSAGING",
		ConversationContext: &protocol.ConversationContext{
			Type:      protocol.ContextShark,
			VisitorID: derivedID("visitor", s.id),
			SessionID: derivedID("session", s.id),
			Lang:      s.visit.Language,
		},
	}
	if c := s.cfg.Campaign; c != nil {
		info := *c
		req.CampaignInfo = &info
	}
	return req
}

// derivedID is a 22-character id (like LivePerson's own visitor and
// session ids) derived from the session id for one purpose.
func derivedID(purpose, sessionID string) string {
	sum := sha256.Sum256([]byte("chatwindow " + purpose + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

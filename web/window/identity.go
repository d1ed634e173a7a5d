package window

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
)

// The session cookie: encrypted and signed by gorilla/securecookie, it holds
// the customer's identity, so any node can serve any tab (docs/deployment.md,
// Many nodes, one service): LivePerson's consumer token and, for a
// customer of the unauthenticated connector, the id_token that renews it.
// Never a brand's token: an authenticated customer's page signs them in
// again when LivePerson's token is refused (signin.go).
const (
	keySession  = "sid"
	keyToken    = "jwt"
	keyIDToken  = "idt"
	sessionIDSz = 24
)

// Identity reads the session cookie. A missing, forged, tampered or expired
// cookie reads as no identity.
func (s *Server) Identity(r *http.Request) (relay.Identity, bool) {
	sess, err := s.cookie.Get(r)
	if err != nil || sess.IsNew {
		return relay.Identity{}, false
	}
	sid, _ := sess.Values[keySession].(string)
	tok, _ := sess.Values[keyToken].(string)
	if sid == "" || tok == "" {
		return relay.Identity{}, false
	}
	idt, _ := sess.Values[keyIDToken].(string)
	return relay.Identity{SessionID: sid, Token: tok, IDToken: idt}, true
}

// EnsureIdentity returns the session's identity, making a new one and
// setting the cookie when there is none.
func (s *Server) EnsureIdentity(c echo.Context) (relay.Identity, error) {
	if id, ok := s.Identity(c.Request()); ok {
		return id, nil
	}
	if s.cfg.AuthMethod != "" {
		// Only the customer's page can sign them in (handleSignIn).
		return relay.Identity{}, echo.NewHTTPError(http.StatusUnauthorized, "Sign in first.")
	}
	return s.newIdentity(c)
}

// newIdentity makes a new identity at the messaging service (a demo
// signup, the connector's) and sets the cookie.
func (s *Server) newIdentity(c echo.Context) (relay.Identity, error) {
	id, err := s.cfg.NewIdentity(c.Request().Context())
	if err != nil {
		return relay.Identity{}, unreachable(err)
	}
	id.SessionID = newSessionID()
	if err := s.saveIdentity(c, id); err != nil {
		return relay.Identity{}, err
	}
	return id, nil
}

func newSessionID() string { return rand.Text()[:sessionIDSz] }

// unreachable is the answer when the messaging service could not make an
// identity.
func unreachable(err error) error {
	return echo.NewHTTPError(http.StatusServiceUnavailable, "The chat service is not reachable right now. Please try again in a moment.").SetInternal(err)
}

// saveIdentity writes the session cookie: framed (partitioned) for a
// window framed by a brand's page (embed.go).
func (s *Server) saveIdentity(c echo.Context, id relay.Identity) error {
	// A cookie that failed to decode still yields a usable new session.
	sess, _ := s.cookie.Get(c.Request())
	if framed(c.Request()) {
		sess.Options = s.cookie.Framed()
	}
	sess.Values[keySession] = id.SessionID
	sess.Values[keyToken] = id.Token
	if id.IDToken != "" {
		sess.Values[keyIDToken] = id.IDToken
	} else {
		delete(sess.Values, keyIDToken)
	}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session cookie: %w", err)
	}
	return nil
}

// clearIdentity expires the session cookie, the framed one as well: a
// browser deletes a partitioned cookie only with a partitioned deletion,
// and each deletion leaves the other kind alone.
func (s *Server) clearIdentity(c echo.Context) {
	sess, _ := s.cookie.Get(c.Request())
	for _, o := range []*sessions.Options{s.cookie.Expired(), s.cookie.ExpiredFramed()} {
		sess.Options = o
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			s.log.Warn("expire the session cookie", "error", err)
		}
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

package window

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
)

// The session cookie: encrypted and signed by gorilla/securecookie, it holds
// the customer's identity, so any node can serve any tab (docs/deployment.md,
// Many nodes, one service).
const (
	keySession  = "sid"
	keyToken    = "jwt"
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
	return relay.Identity{SessionID: sid, Token: tok}, true
}

// EnsureIdentity returns the session's identity, signing up a new consumer
// and setting the cookie when there is none.
func (s *Server) EnsureIdentity(c echo.Context) (relay.Identity, error) {
	if id, ok := s.Identity(c.Request()); ok {
		return id, nil
	}
	return s.newIdentity(c)
}

// newIdentity signs up a new consumer and sets the cookie.
func (s *Server) newIdentity(c echo.Context) (relay.Identity, error) {
	tok, err := s.cfg.Signup(c.Request().Context())
	if err != nil {
		return relay.Identity{}, echo.NewHTTPError(http.StatusServiceUnavailable, "The chat service is not reachable right now. Please try again in a moment.").SetInternal(err)
	}
	id := relay.Identity{SessionID: rand.Text()[:sessionIDSz], Token: tok}
	if err := s.saveIdentity(c, id); err != nil {
		return relay.Identity{}, err
	}
	return id, nil
}

// saveIdentity writes the session cookie.
func (s *Server) saveIdentity(c echo.Context, id relay.Identity) error {
	// A cookie that failed to decode still yields a usable new session.
	sess, _ := s.cookie.Get(c.Request())
	sess.Values[keySession] = id.SessionID
	sess.Values[keyToken] = id.Token
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session cookie: %w", err)
	}
	return nil
}

// clearIdentity expires the session cookie.
func (s *Server) clearIdentity(c echo.Context) {
	sess, _ := s.cookie.Get(c.Request())
	sess.Options = s.cookie.Expired()
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		s.log.Warn("expire the session cookie", "error", err)
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

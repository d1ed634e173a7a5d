package simulator

import (
	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Token lifetimes on open consumer sockets (docs/simulator.md, Sockets):
// when the token a consumer socket was authenticated with expires on the
// service clock, the socket is closed with 4401 for a brand-authenticated
// identity and 4407 for an unauthenticated one (Protocol Overview, Error
// Handling and Handle disconnection).

// statusTokenExtend asks an unauthenticated identity to extend its token.
const statusTokenExtend = websocket.StatusCode(protocol.CloseTokenExtend)

// tokenLife is what a consumer socket keeps of the token it was
// authenticated with.
type tokenLife struct {
	exp  int64                // the token's exp, epoch seconds
	code websocket.StatusCode // the close code at expiry
}

// lifeOf is the life of a verified consumer token.
func lifeOf(c claims) *tokenLife {
	return &tokenLife{exp: c.Exp, code: closeCodeOf(c)}
}

// closeCodeOf is the close code for a consumer token that expired: 4401
// (a fresh token is required from the customer) for an authenticated
// identity, 4407 (extend the identity at the IDP) for the others.
func closeCodeOf(c claims) websocket.StatusCode {
	if c.authenticated() {
		return statusTokenInvalid
	}
	return statusTokenExtend
}

// tokenExpired reports whether the socket's token has expired on the
// service clock, and the code to close it with. A socket not yet
// authenticated has no token to expire.
func (c *socket) tokenExpired() (websocket.StatusCode, bool) {
	l := c.life.Load()
	if l == nil || c.s.cfg.Now().Unix() < l.exp {
		return 0, false
	}
	return l.code, true
}

// checkExpiry runs on the writer's ticker (Config.ExpiryCheck, on the
// real clock; the expiry itself is read on the service clock, so a test
// that moves Now sees the close at the next tick). It counts its runs, so
// that a test can wait for a check after moving the clock.
func (c *socket) checkExpiry() (websocket.StatusCode, bool) {
	defer c.expiryChecks.Add(1)
	return c.tokenExpired()
}

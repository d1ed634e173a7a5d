package relay

import (
	"context"
	"fmt"
)

// A session's identity: what the cookie holds, and how a token the service
// refused is replaced (docs/protocol.md, Identity). A session built by
// Config.Connect owns its upstream's token source (Session.token): the
// cookie's token first; after a refusal (4401, 4407, a 401) the renewal
// of Config.Renew, or, for an authenticated customer (SignInByPage), the
// token of the customer's page's answer: the session asks its tabs to
// sign the customer in again and waits for it.

// Identity is what the session cookie holds.
type Identity struct {
	SessionID string
	Token     string
	// IDToken is the unauthenticated connector's id_token, which renews
	// Token (empty for other identities).
	IDToken string
}

// identity is the session's identity now (any goroutine).
func (s *Session) identity() Identity {
	s.identMu.Lock()
	defer s.identMu.Unlock()
	return s.ident
}

func (s *Session) setIdentity(id Identity) {
	s.identMu.Lock()
	defer s.identMu.Unlock()
	id.SessionID = s.id
	s.ident = id
}

// token is the session's token source, called by its upstream's Run (one
// call at a time): the cookie's token, then a renewal each time the
// service refused the last one.
func (s *Session) token(ctx context.Context) (string, error) {
	s.identMu.Lock()
	id, first := s.ident, !s.gaveToken
	s.gaveToken = true
	s.identMu.Unlock()
	switch {
	case first:
		return id.Token, nil
	case s.cfg.SignInByPage:
		return s.tokenFromPage(ctx)
	case s.cfg.Renew == nil:
		return id.Token, nil
	}
	next, err := s.cfg.Renew(ctx, id)
	if err != nil {
		return "", fmt.Errorf("renew the identity: %w", err)
	}
	s.setIdentity(next)
	s.log.Info("token renewed", "by", "renewal")
	return next.Token, nil
}

// tokenFromPage asks the session's tabs to sign the customer in again
// (their pages call the brand's sign-in and post its answer: the web
// layer exchanges it and hands the token over with Manager.SignIn) and
// waits for the token, however long: a session without a tab ends after
// its grace period, and ctx with it.
func (s *Session) tokenFromPage(ctx context.Context) (string, error) {
	// A token offered while nobody waited is stale by now.
	select {
	case <-s.signedIn:
	default:
	}
	s.awaiting.Store(true)
	defer s.awaiting.Store(false)
	s.loop.Do(signInCmd{asking: true})
	select {
	case tok := <-s.signedIn:
		s.setIdentity(Identity{Token: tok})
		s.log.Info("token renewed", "by", "page sign-in")
		s.loop.Do(signInCmd{asking: false})
		return tok, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// offer hands tok to the session's token source if it waits for the
// customer's page; false when it does not.
func (s *Session) offer(tok string) bool {
	if tok == "" || !s.awaiting.Load() {
		return false
	}
	select {
	case s.signedIn <- tok:
	default: // another tab's answer is on its way already
	}
	return true
}

// SignIn hands the session of sessionID, which waits for its customer's
// page to sign them in again (Config.SignInByPage), the token the page's
// answer was exchanged for. False when no session of this node waits for
// one: then the page's socket reconnects with the new cookie, and the node
// that serves it hands the token over when the tab attaches.
func (m *Manager) SignIn(sessionID, token string) bool {
	s, ok := m.sessions.Get(sessionID)
	return ok && s.offer(token)
}

// offerCookie hands a waiting session the token of a tab's cookie when it
// is not the session's own: the page signed the customer in on another
// node, which wrote the cookie.
func (s *Session) offerCookie(id Identity) {
	if id.Token != s.identity().Token {
		s.offer(id.Token)
	}
}

// signInCmd: the session's token source asks the tabs to sign the
// customer in (asking), or got its token.
type signInCmd struct{ asking bool }

// signIn shows whether the tabs are asked to sign the customer in.
func (s *Session) signIn(asking bool) {
	if s.signingIn == asking {
		return
	}
	s.signingIn = asking
	s.broadcast(Change{Connection: true})
}

// identityNotice is what the window says when the service gave the
// session another consumer (checkIdentity).
func (s *Session) identityNotice() string {
	if s.cfg.SignInByPage {
		return "You are signed in as someone else now, so the earlier conversation is not shown here. Write to start a new one."
	}
	return "Your chat expired at the chat service, or the service restarted, and this conversation could not be kept. Write to start a new one."
}

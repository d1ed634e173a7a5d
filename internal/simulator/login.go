package simulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// handleLogin logs an agent in: a bearer for the agent socket, a csrf for
// refresh, and the agent's ids in config. Failed logins are counted per
// username and per client address (LoginLimits); while either is locked
// out the answer is 429 with Retry-After, whatever the password.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var req protocol.LoginRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"username\":…,\"password\":…}")
		return
	}
	a, wait, locked := s.checkLogin(req, r.RemoteAddr)
	switch {
	case wait > 0:
		secs := int64(wait / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins: try again in %d s", secs))
		return
	case a == nil:
		if locked > 0 {
			s.log.Warn("agent login locked out", "agent", short(req.Username), "remote", r.RemoteAddr, "for", locked)
		} else {
			s.log.Info("agent login refused", "agent", short(req.Username), "remote", r.RemoteAddr)
		}
		writeError(w, http.StatusUnauthorized, "wrong username or password")
		return
	}
	now := s.cfg.Now()
	sess := &agentSession{bearer: randomToken(), csrf: randomToken(), agent: a, expires: now.Add(s.cfg.SessionTTL)}
	s.mu.Lock()
	s.dropExpiredSessions(now)
	s.sessions[sess.bearer] = sess
	s.mu.Unlock()
	s.log.Info("agent logged in", "agent", a.name)
	writeJSON(w, http.StatusOK, protocol.LoginResponse{
		Bearer:     sess.bearer,
		CSRF:       sess.csrf,
		Config:     protocol.LoginConfig{UserID: a.userID, UserPID: a.pid, AccountID: s.cfg.Account, LoginName: a.name},
		SessionTTL: strconv.FormatInt(s.cfg.SessionTTL.Milliseconds(), 10),
	})
}

// checkLogin runs one login attempt against the lockouts and the agents,
// as one step: it answers the agent; or nil and how long the client must
// wait (locked out, nothing was checked); or nil, 0 and the lockout this
// failure started (0: none).
func (s *Service) checkLogin(req protocol.LoginRequest, remote string) (a *agentAccount, wait, locked time.Duration) {
	userKey := s.cfg.Account + "\x00" + req.Username
	addrKey := clientaddr.Key(remote)
	perAddr := s.cfg.LoginLimits.LimitLoopback || !clientaddr.IsLoopback(remote)
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	if wait := s.byUser.Begin(userKey); wait > 0 {
		return nil, wait, 0
	}
	if perAddr {
		if wait := s.byAddr.Begin(addrKey); wait > 0 {
			s.byUser.Drop(userKey)
			return nil, wait, 0
		}
	}
	if a = s.authenticate(req.Username, req.Password); a == nil {
		locked = s.byUser.Fail(userKey)
		if perAddr {
			locked = max(locked, s.byAddr.Fail(addrKey))
		}
		return nil, 0, locked
	}
	s.byUser.Succeed(userKey)
	if perAddr {
		// One good password must not wipe an address's failures on other
		// names.
		s.byAddr.Drop(addrKey)
	}
	return a, 0, 0
}

// authenticate returns the agent with that name and password, or nil. It
// compares the SHA-256 of both with every agent's in constant time, so the
// time taken says nothing of which part was wrong, how much of it, or how
// long the password is.
func (s *Service) authenticate(name, password string) *agentAccount {
	nh, ph := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(password))
	var found *agentAccount
	for _, a := range s.agents {
		if subtle.ConstantTimeCompare(nh[:], a.nameHash[:])&subtle.ConstantTimeCompare(ph[:], a.passwordHash[:]) == 1 {
			found = a
		}
	}
	return found
}

// equalSecret compares two secrets in constant time whatever their
// lengths: it compares their SHA-256.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// handleRefresh keeps an agent session alive: 200 and another SessionTTL
// when the csrf names a live session, 401 otherwise (an expired session is
// gone for good). Cookies are ignored.
func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var req protocol.RefreshRequest
	if err := decodeJSON(r, &req); err != nil || req.CSRF == "" {
		writeError(w, http.StatusUnauthorized, "no session")
		return
	}
	s.mu.Lock()
	var sess *agentSession
	for _, x := range s.sessions {
		if equalSecret(x.csrf, req.CSRF) {
			sess = x
			break
		}
	}
	if sess = s.liveSession(sess); sess != nil {
		sess.expires = s.cfg.Now().Add(s.cfg.SessionTTL)
	}
	s.mu.Unlock()
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "no session, or it expired")
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// liveSession returns sess unless it is nil or expired; an expired one is
// forgotten. The caller holds s.mu.
func (s *Service) liveSession(sess *agentSession) *agentSession {
	if sess == nil {
		return nil
	}
	if !s.cfg.Now().Before(sess.expires) {
		delete(s.sessions, sess.bearer)
		return nil
	}
	return sess
}

// sessionExpired reports whether the session an agent socket was opened
// with has expired. The caller holds s.mu.
func (s *Service) sessionExpired(c *socket) bool {
	return c.session != nil && !s.cfg.Now().Before(c.session.expires)
}

// dropExpiredSessions forgets every expired session, so that the table
// holds at most the logins of the last SessionTTL. The caller holds s.mu.
func (s *Service) dropExpiredSessions(now time.Time) {
	for b, sess := range s.sessions {
		if !now.Before(sess.expires) {
			delete(s.sessions, b)
		}
	}
}

// short cuts a client-chosen string for the log.
func short(v string) string {
	const n = 64
	if len(v) <= n {
		return v
	}
	return v[:n] + "…"
}

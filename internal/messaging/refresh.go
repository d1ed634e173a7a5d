package messaging

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DefaultRefreshInterval is how often an Agent refreshes its login
// session: LivePerson's Node.js agent SDK's default (refreshSessionInterval).
const DefaultRefreshInterval = 10 * time.Minute

// refreshLoop keeps the agent's login session alive while Run runs, as the
// agent SDK does: every RefreshInterval (or half the session's lifetime
// when the login said it is shorter) it refreshes the session of the last
// login. It ends when ctx (Run's) ends.
func (a *Agent) refreshLoop(ctx context.Context) {
	if a.cfg.RefreshInterval < 0 {
		return
	}
	for {
		t := time.NewTimer(a.refreshEvery())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		a.refresh(ctx)
	}
}

func (a *Agent) refreshEvery() time.Duration {
	every := a.cfg.RefreshInterval
	if every == 0 {
		every = DefaultRefreshInterval
	}
	a.mu.Lock()
	ttl := a.login.SessionTTL
	a.mu.Unlock()
	if ms, err := strconv.ParseInt(ttl, 10, 64); err == nil && ms > 0 {
		every = min(every, time.Duration(ms)*time.Millisecond/2)
	}
	return every
}

// refresh refreshes the last login's session once. A session the service
// no longer knows (401) is logged into again at once, as the agent SDK
// does: the socket is dropped as refused, so Run logs in and reconnects
// (and restores every subscription). Other failures wait for the next
// turn; the session outlives a few of them.
func (a *Agent) refresh(ctx context.Context) {
	a.mu.Lock()
	csrf := a.login.CSRF
	a.mu.Unlock()
	if csrf == "" {
		return // not logged in yet, or the service gave no csrf
	}
	timeout := a.cfg.RequestTimeout
	if timeout == 0 {
		timeout = DefaultRequestTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	err := Refresh(rctx, a.cfg.HTTPClient, a.cfg.Endpoints, csrf)
	cancel()
	if err == nil || ctx.Err() != nil {
		return
	}
	if Classify(err) != RefreshToken {
		a.log.Warn("messaging: session refresh failed", "error", err)
		return
	}
	a.mu.Lock()
	current, c := a.login.CSRF == csrf, a.session.live
	a.mu.Unlock()
	if !current {
		return // logged in again meanwhile
	}
	a.log.Info("messaging: the login session is gone; logging in again", "error", err)
	if c != nil {
		c.fail(fmt.Errorf("refresh: %w: %w", ErrTokenRejected, err))
	}
}

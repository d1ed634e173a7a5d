package simulator

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// withIdentities runs the service with every identity: signup, the
// tutorial's brand key (tokens of testAccount, so without aud) and the
// unauthenticated connector; consumer tokens live an hour.
func withIdentities(c *Config) {
	c.AuthKey = tutorialKey()
	c.ConnectorID = testConnector
	c.TokenTTL = time.Hour
}

// brandTokenFor signs a brand token of sub for testAccount expiring at exp.
func brandTokenFor(t testing.TB, sub string, exp time.Time) string {
	t.Helper()
	c := brandClaims(sub)
	delete(c, "aud")
	c["exp"] = exp.Unix()
	return signBrand(t, tutorialPrivateKey(), c)
}

// identity is one way to a consumer token, and the close code of its
// expiry (Protocol Overview, Error Handling).
type identity struct {
	name string
	// token returns a consumer token; called again, a fresh token of the
	// same identity (nil: the identity cannot be renewed, signup).
	token   func(e *env) (first string, again func() string)
	expires time.Duration // after epoch
	code    websocket.StatusCode
}

var identities = []identity{
	{"signup", func(e *env) (string, func() string) { return e.signup(), nil }, time.Hour, protocol.CloseTokenExtend},
	{"connector", func(e *env) (string, func() string) {
		ext := e.idToken("")
		return e.connectorToken(ext), func() string { return e.connectorToken(e.idToken(ext)) }
	}, time.Hour, protocol.CloseTokenExtend},
	{"authenticated, TokenTTL sooner", func(e *env) (string, func() string) {
		return e.authToken(testAccount, brandTokenFor(e.t, "cust-1", epoch.Add(2*time.Hour))),
			func() string {
				return e.authToken(testAccount, brandTokenFor(e.t, "cust-1", e.clock.Now().Add(time.Hour)))
			}
	}, time.Hour, protocol.CloseTokenInvalid},
	{"authenticated, brand exp sooner", func(e *env) (string, func() string) {
		return e.authToken(testAccount, brandTokenFor(e.t, "cust-2", epoch.Add(30*time.Minute))),
			func() string {
				return e.authToken(testAccount, brandTokenFor(e.t, "cust-2", e.clock.Now().Add(time.Hour)))
			}
	}, 30 * time.Minute, protocol.CloseTokenInvalid},
}

// initConnection authenticates a socket opened without the header.
func (c *client) initConnection(token string) protocol.Frame {
	c.t.Helper()
	c.sendRaw(`{"kind":"req","id":"init","type":"InitConnection","headers":[{"type":".ams.headers.ConsumerAuthentication","jwt":"` + token + `"}]}`)
	return c.resp("init")
}

// serverSocket finds the service's side of a consumer's socket.
func (e *env) serverSocket(consumerID string) *socket {
	e.t.Helper()
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	for c := range e.svc.sockets {
		if c.kind == consumerSocket && c.consumerID == consumerID {
			return c
		}
	}
	e.t.Fatalf("no socket of consumer %s", consumerID)
	return nil
}

// waitChecks waits until the socket's expiry was checked n more times.
func waitChecks(t *testing.T, c *socket, n int64) {
	t.Helper()
	want := c.expiryChecks.Load() + n
	deadline := time.Now().Add(waitLimit)
	for c.expiryChecks.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the expiry was not checked %d more times", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTokenExpiryClosesOpenSocket: an open consumer socket stays open up
// to its token's expiry and is closed at it, without any request, on the
// service clock: 4407 for the unauthenticated identities (signup, the
// connector), 4401 for a brand-authenticated one. The identity's fresh
// token then finds its conversation still open.
func TestTokenExpiryClosesOpenSocket(t *testing.T) {
	for _, id := range identities {
		for _, byHeader := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/header=%v", id.name, byHeader), func(t *testing.T) {
				e := newEnv(t, withIdentities, func(c *Config) { c.ExpiryCheck = time.Millisecond })
				tok, again := id.token(e)
				var c *client
				if byHeader {
					c = e.consumer(tok)
				} else {
					c = e.dial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", nil)
					if r := c.initConnection(tok); r.Code != 200 {
						t.Fatalf("InitConnection: %d", r.Code)
					}
				}
				conv := c.openConversation()
				sock := e.serverSocket(payload(t, tok)["sub"].(string))

				e.clock.Advance(id.expires - time.Second)
				waitChecks(t, sock, 2)
				c.ok("GetClock", nil) // a second before expiry: still open

				e.clock.Advance(time.Second)
				if got := c.closeStatus(); got != id.code {
					t.Fatalf("close %d, want %d", got, id.code)
				}
				if again == nil {
					return
				}
				r := e.consumer(again()).wantCode(409, "cm.ConsumerRequestConversation", nil)
				if !strings.Contains(r.BodyString(), conv) {
					t.Errorf("the identity's fresh token does not find conversation %s: %s", conv, r.BodyString())
				}
			})
		}
	}
}

// TestExpiredTokenNextRequest: with the expiry check not yet run (it runs
// every ExpiryCheck), a request on a socket whose token expired is
// answered 401 and the socket closed with the identity's code.
func TestExpiredTokenNextRequest(t *testing.T) {
	for _, id := range identities {
		t.Run(id.name, func(t *testing.T) {
			e := newEnv(t, withIdentities, func(c *Config) { c.ExpiryCheck = time.Hour })
			tok, _ := id.token(e)
			c := e.consumer(tok)
			c.ok("GetClock", nil)
			e.clock.Advance(id.expires)
			c.wantCode(401, "GetClock", nil)
			if got := c.closeStatus(); got != id.code {
				t.Fatalf("close %d, want %d", got, id.code)
			}
		})
	}
}

// TestInitConnectionExpiredToken: an expired token in InitConnection gets
// 401 and the close of its identity (4407 unauthenticated, 4401
// authenticated); a token that is not the service's gets 4401.
func TestInitConnectionExpiredToken(t *testing.T) {
	for _, id := range identities {
		t.Run(id.name, func(t *testing.T) {
			e := newEnv(t, withIdentities, func(c *Config) { c.ExpiryCheck = time.Hour })
			tok, _ := id.token(e)
			e.clock.Advance(id.expires)
			c := e.dial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", nil)
			if r := c.initConnection(tok); r.Code != 401 || !strings.Contains(r.BodyString(), "expired") {
				t.Fatalf("InitConnection: %d %s, want 401 expired", r.Code, r.BodyString())
			}
			if got := c.closeStatus(); got != id.code {
				t.Fatalf("close %d, want %d", got, id.code)
			}
			h := http.Header{}
			h.Set("Authorization", "jwt "+tok)
			if _, resp, err := e.tryDial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h); err == nil || resp == nil || resp.StatusCode != 401 {
				t.Errorf("handshake with the expired token: %v %v, want HTTP 401", err, resp)
			}
		})
	}
}

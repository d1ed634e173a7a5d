package web

import (
	"net/http"
	"time"

	"github.com/gorilla/sessions"
)

// SessionCookie is one of the surfaces' session cookies: encrypted and
// signed by gorilla/securecookie with every configured key pair (the first
// signs; all are accepted, so keys can be rotated), HttpOnly, SameSite=Lax,
// with an absolute lifetime (the cookie is written once, when the session
// starts, and its signed timestamp expires with it). Served over HTTPS it
// is Secure and carries the __Host- prefix (__Secure- below the root path),
// so that no other host and no plain-HTTP page can plant one.
type SessionCookie struct {
	name  string
	store *sessions.CookieStore
}

func NewSessionCookie(base, path string, keys [][]byte, maxAge time.Duration, secure bool) SessionCookie {
	store := sessions.NewCookieStore(keys...)
	store.Options = &sessions.Options{
		Path:     path,
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(store.Options.MaxAge)
	name := base
	switch {
	case secure && path == "/":
		name = "__Host-" + base
	case secure:
		name = "__Secure-" + base
	}
	return SessionCookie{name: name, store: store}
}

// Get reads the session; a missing, forged, tampered or expired cookie
// reads as a new, empty one (err says why, for the log).
func (c SessionCookie) Get(r *http.Request) (*sessions.Session, error) {
	sess, err := c.store.Get(r, c.name)
	if err != nil {
		fresh, _ := c.store.New(r, c.name)
		return fresh, err
	}
	return sess, nil
}

// Expired is the cookie's options for deleting it (MaxAge < 0).
func (c SessionCookie) Expired() *sessions.Options {
	o := *c.store.Options
	o.MaxAge = -1
	return &o
}

// Framed is the cookie's options in a page framed by another site
// (docs/embedding.md, Cookies). A browser sends a SameSite=Lax cookie to
// no cross-site frame, and one that blocks third-party cookies keeps none
// there but a Partitioned one, which it keeps in a jar of the embedding
// site's own: so SameSite=None and Partitioned, which browsers take only
// with Secure (http://localhost counts as secure). Still HttpOnly: the
// page's JavaScript never reads it.
func (c SessionCookie) Framed() *sessions.Options {
	o := *c.store.Options
	o.SameSite = http.SameSiteNoneMode
	o.Secure = true
	o.Partitioned = true
	return &o
}

// ExpiredFramed is Framed's options for deleting it: a partitioned cookie
// is deleted only by a cookie of its partition.
func (c SessionCookie) ExpiredFramed() *sessions.Options {
	o := c.Framed()
	o.MaxAge = -1
	return o
}

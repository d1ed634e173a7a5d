package window

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/imageproxy"
	"github.com/chatwindow/chatwindow/static"
)

// Card images reach the customer's browser from the window's own origin
// only (docs/richcontent.md): the browser never asks another host, which
// would learn the customer's address, browser and when they read the card.

// imagePath is the image proxy's route (routes.go).
const imagePath = "/image"

// imgSrc is the window's CSP img-src: its own assets, the proxy's images
// and the data: URLs of its stylesheet.
const imgSrc = "'self' data:"

// imageKeyLabel derives the proxy's signing key from a session hash key:
// a key of its own, so that no signature of one kind stands for the other.
const imageKeyLabel = "chatwindow image proxy"

// cardImages turns a card image's URL into the page's.
type cardImages struct {
	// keys are the signing keys, derived from each session hash key; the
	// first signs, all are accepted: every node signs alike, and a key
	// rotation does not break the pages already out.
	keys   [][]byte
	assets *static.Assets
}

func newCardImages(sessionKeys [][]byte, assets *static.Assets) cardImages {
	var keys [][]byte
	// Pairs of hash and encryption keys: the hash keys.
	for i := 0; i < len(sessionKeys); i += 2 {
		if len(sessionKeys[i]) == 0 {
			continue
		}
		m := hmac.New(sha256.New, sessionKeys[i])
		m.Write([]byte(imageKeyLabel))
		keys = append(keys, m.Sum(nil))
	}
	return cardImages{keys: keys, assets: assets}
}

// src is what the page loads for the card image u (a richcontent.ImageURL):
// one of the window's own images as its path, whatever host u names (the
// browser then asks nothing of that host); an https image as the proxy's
// signed URL; false for anything else (a plain-http image of another
// host, or no key to sign with): the card shows the image's text.
func (ci cardImages) src(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	if name, ok := strings.CutPrefix(p.EscapedPath(), "/static/"); ok && ci.assets != nil && p.RawQuery == "" {
		if a, ok := ci.assets.Lookup(name); ok && strings.HasPrefix(a.ContentType, "image/") {
			return "/static/" + a.Hashed, true
		}
	}
	if p.Scheme != "https" || len(ci.keys) == 0 {
		return "", false
	}
	return imagePath + "?u=" + url.QueryEscape(u) + "&s=" + sign(ci.keys[0], u), true
}

// valid reports whether sig is a signature of u by one of the keys.
func (ci cardImages) valid(u, sig string) bool {
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	for _, k := range ci.keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(u))
		if hmac.Equal(m.Sum(nil), got) {
			return true
		}
	}
	return false
}

func sign(key []byte, u string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(u))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// images is the window's side of card images: the URLs it renders and the
// proxy that serves them.
type images struct {
	cardImages
	proxy *imageproxy.Proxy
}

// handleImage serves a card image through the proxy: only a URL this
// window rendered (signed), so that it is nobody's open proxy. The answer
// is the image alone, typed as sniffed, inert if opened as a page; a
// failure is a short text of this server's, never the remote's.
func (s *Server) handleImage(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	// Other sites may not use the window as their image proxy.
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	q := c.QueryParams()
	u := q.Get("u")
	if len(q["u"]) != 1 || len(q["s"]) != 1 || len(u) > 4096 || !s.images.valid(u, q.Get("s")) {
		return s.imageRefused(c, http.StatusForbidden, "not an image of this window", errors.New("unsigned or altered image URL"))
	}
	img, err := s.images.proxy.Fetch(c.Request().Context(), u)
	if err != nil {
		code := http.StatusBadGateway
		switch {
		case errors.Is(err, imageproxy.ErrRefused):
			code = http.StatusForbidden
		case errors.Is(err, imageproxy.ErrBusy):
			code = http.StatusServiceUnavailable
		case errors.Is(err, imageproxy.ErrTimeout):
			code = http.StatusGatewayTimeout
		}
		return s.imageRefused(c, code, "image unavailable", err)
	}
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Disposition", "inline")
	return c.Blob(http.StatusOK, img.ContentType, img.Body)
}

// imageRefused answers a card image that is not served. A broken image is
// the agent's card's business, not this server's failure: it is logged at
// debug level, like other refusals.
func (s *Server) imageRefused(c echo.Context, code int, msg string, err error) error {
	s.log.Debug("card image refused", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "code", code, "error", err)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(code, msg)
}

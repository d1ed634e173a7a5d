// Package demo is the demo site (docs/embedding.md, The demo site): a small
// sample brand's page that `make run` serves beside the chat window, on
// another site (another host name, not only another port), with the
// window's launcher on it, as a brand's own page would have it. When the
// window's customers are authenticated, the page signs a demo customer in
// and its sign-in function answers with a brand JWT that the demo site
// signs with a key the embedded service trusts.
package demo

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// Config is what the program decides for the demo site.
type Config struct {
	// WindowURL is the chat window's origin (http://localhost:8080): the
	// page loads its embed.js and frames it.
	WindowURL string
	// Secure: the demo site is served over HTTPS (its page's origin).
	Secure bool
	// AuthMethod names the page's sign-in function when the window's
	// customers are authenticated ("": they are not).
	AuthMethod string
	// Key signs the demo customers' brand JWTs (RS256) for Account, with
	// Issuer as their iss; nil: the page signs nobody in (the service
	// trusts another key).
	Key     *rsa.PrivateKey
	Account string
	Issuer  string
	// TokenTTL is a brand JWT's lifetime (0: tokenTTL); Now its clock
	// (nil: time.Now).
	TokenTTL time.Duration
	Now      func() time.Time
}

// tokenTTL is a demo customer's brand JWT's lifetime: the window exchanges
// it at once.
const tokenTTL = 10 * time.Minute

// tokenPath is where the page asks for a demo customer's JWT.
const tokenPath = "/token"

// Site is the demo site's HTTP server.
type Site struct {
	log    *slog.Logger
	cfg    Config
	assets *static.Assets
	echo   *echo.Echo
}

// New wires the demo site.
func New(logger *slog.Logger, cfg Config, assets *static.Assets) (*Site, error) {
	u, err := url.Parse(cfg.WindowURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return nil, fmt.Errorf("demo site: the window's origin %q: want scheme://host:port", cfg.WindowURL)
	}
	if cfg.Key != nil && (cfg.Account == "" || cfg.Issuer == "" || cfg.AuthMethod == "") {
		return nil, errors.New("demo site: signing customers in needs the account, an issuer and the page's sign-in function")
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = tokenTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Site{log: logger, cfg: cfg, assets: assets}
	// The page runs the window's embed.js, with its stylesheet, and frames
	// the window; nothing frames the page.
	s.echo = web.NewEcho(logger, web.EchoConfig{FrameAncestors: "'none'", ImgSrc: "'self' data:", ScriptSrc: cfg.WindowURL, StyleSrc: cfg.WindowURL, FrameSrc: cfg.WindowURL})
	web.GetOrHead(s.echo, "/", s.handlePage)
	web.GetOrHead(s.echo, "/static/:name", func(c echo.Context) error { return web.ServeAsset(c, s.assets, "/static/") })
	s.echo.POST(tokenPath, s.handleToken)
	return s, nil
}

// ServeHTTP makes the site an http.Handler.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// handlePage is the sample brand's page.
func (s *Site) handlePage(c echo.Context) error {
	p := views.DemoPage{
		CSS:          web.AssetURL(s.assets, "", "demo.css"),
		JS:           web.AssetURL(s.assets, "", "demo.js"),
		EmbedJS:      s.cfg.WindowURL + "/embed.js",
		WindowOrigin: s.cfg.WindowURL,
	}
	if s.cfg.Key != nil {
		p.AuthMethod, p.TokenURL = s.cfg.AuthMethod, tokenPath
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return web.Render(c, http.StatusOK, views.Demo(p))
}

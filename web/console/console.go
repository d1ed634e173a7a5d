package console

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/lockout"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// Prefix is where the agent console is mounted.
const Prefix = "/agent"

// The console's cookie: encrypted and signed, it holds the desk's id and
// the CSRF token, nothing else (the agent's password stays in the desk's
// memory).
const (
	keyDesk = "desk"
	keyCSRF = "csrf"
)

// Config is the agent console's part of the configuration.
type Config struct {
	// SessionKeys are gorilla/securecookie key pairs, as Config's.
	SessionKeys [][]byte
	// Secure marks the cookie Secure (anything but plain-HTTP loopback).
	Secure bool
	// SessionMaxAge is the cookie's absolute lifetime (default 12 h).
	SessionMaxAge time.Duration
	// FrameAncestors is the CSP frame-ancestors source list ('self' by
	// default).
	FrameAncestors string
	// MaxFrame bounds a console socket frame.
	MaxFrame int64
	// SocketsPerClient caps the console sockets one client address holds
	// open (0: no cap).
	SocketsPerClient int
	// SignInLimits bound failed sign-ins; zero fields take defaults.
	SignInLimits SignInLimits
	// Now is the clock of the sign-in lockouts; default time.Now.
	Now func() time.Time
}

// SignInLimits bound failed sign-ins per browser address (c.RealIP(): the
// direct peer unless a trusted proxy forwards it; an IPv6 address by its
// /64). While a limit holds, the form is shown again with 429 "Too many
// attempts" and the service is not asked. Each further round of failures
// doubles the lockout, up to its cap.
type SignInLimits struct {
	// PerName counts one agent name's failures from one address; a
	// success clears it. Defaults: 5 failures, locked 1 min, doubling up
	// to 1 h. Below the service's own per-name limit (10), so that a
	// guesser at one address is stopped here before the agent's login is
	// locked at the service for everyone.
	PerName lockout.Policy
	// PerClient counts one address's failures whatever the names, against
	// password spraying: the service does not limit the console's
	// loopback address (docs/console.md). Defaults: 20 failures, locked
	// 1 min, doubling up to 1 h.
	PerClient lockout.Policy
}

// Server is the agent console's HTTP server, mounted under Prefix (on the
// embedded service's own listener).
type Server struct {
	log    *slog.Logger
	cfg    Config
	assets *static.Assets
	desks  *desks.Manager
	cookie web.SessionCookie
	echo   *echo.Echo
	// Failed sign-ins per agent name and address, and per address.
	byName, byClient *lockout.Table
	// sockets serves and counts the console's sockets.
	sockets *pagesocket.Server
	// uploads receives the agents' files (files.go).
	uploads *web.Uploads
	// downloads holds a place per file download under way (files.go).
	downloads chan struct{}
}

// New wires the console's Echo instance and routes.
func New(logger *slog.Logger, cfg Config, assets *static.Assets, desks *desks.Manager) (*Server, error) {
	if len(cfg.SessionKeys) == 0 || len(cfg.SessionKeys)%2 != 0 {
		return nil, errors.New("console: session keys must come in pairs (hash, encryption)")
	}
	if cfg.SessionMaxAge == 0 {
		cfg.SessionMaxAge = 12 * time.Hour
	}
	if cfg.FrameAncestors == "" {
		cfg.FrameAncestors = "'self'"
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = 32 << 10
	}
	if cfg.SignInLimits.PerName.Threshold <= 0 {
		cfg.SignInLimits.PerName.Threshold = 5
	}
	if cfg.SignInLimits.PerClient.Threshold <= 0 {
		cfg.SignInLimits.PerClient.Threshold = 20
	}
	c := &Server{log: logger, cfg: cfg, assets: assets, desks: desks,
		byName:    lockout.New(cfg.SignInLimits.PerName, cfg.Now),
		byClient:  lockout.New(cfg.SignInLimits.PerClient, cfg.Now),
		sockets:   pagesocket.New(pagesocket.Config{Logger: logger, Secure: cfg.Secure, PerClient: cfg.SocketsPerClient}),
		uploads:   web.NewUploads(maxFileBytes, maxFilesAtOnce),
		downloads: make(chan struct{}, maxFilesAtOnce),
	}
	c.cookie = web.NewSessionCookie("chatwindow-agent", Prefix+"/", cfg.SessionKeys, cfg.SessionMaxAge, cfg.Secure)
	c.echo = web.NewEcho(logger, web.EchoConfig{FrameAncestors: cfg.FrameAncestors, ImgSrc: imgSrc, OwnBodyLimit: []string{uploadPath}})
	c.routes()
	return c, nil
}

// imgSrc is the console's CSP img-src: it shows the cards its agent sends
// as they are.
const imgSrc = "'self' https: data:"

// Wait blocks until every console socket has been served to its end: call
// it once the desks have let every tab go.
func (c *Server) Wait() { c.sockets.Wait() }

// ServeHTTP makes the console an http.Handler.
func (c *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.echo.ServeHTTP(w, r) }

// deskCookie is what the console's cookie holds.
type deskCookie struct {
	sess *sessions.Session
	desk string
	csrf string
}

// session reads the cookie (a missing, forged or expired one reads as a
// new, empty session) and makes sure it has a CSRF token.
func (c *Server) session(r *http.Request) (deskCookie, bool) {
	sess, _ := c.cookie.Get(r)
	cs := deskCookie{sess: sess}
	cs.desk, _ = sess.Values[keyDesk].(string)
	cs.csrf, _ = sess.Values[keyCSRF].(string)
	changed := false
	if cs.csrf == "" {
		cs.csrf = rand.Text()
		sess.Values[keyCSRF] = cs.csrf
		changed = true
	}
	return cs, changed
}

func (c *Server) save(ec echo.Context, cs deskCookie) error {
	if err := cs.sess.Save(ec.Request(), ec.Response()); err != nil {
		return fmt.Errorf("save console cookie: %w", err)
	}
	return nil
}

// checkCSRF compares the form's token with the cookie's.
func checkCSRF(ec echo.Context, cs deskCookie) error {
	got := ec.FormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(cs.csrf)) != 1 {
		return echo.NewHTTPError(http.StatusForbidden, "The form expired. Reload the page and try again.")
	}
	return nil
}

func (c *Server) assetURL(name string) string {
	return web.AssetURL(c.assets, Prefix, name)
}

func (c *Server) signInPage(cs deskCookie, name, errText string) templ.Component {
	return views.ConsoleSignIn(views.SignInPage{
		CSS: c.assetURL("console.css"), Action: Prefix + "/sign-in", CSRF: cs.csrf, Name: name, Error: errText,
	})
}

// handleConsole shows the desk of a signed-in browser, else the sign-in
// form.
func (c *Server) handleConsole(ec echo.Context) error {
	cs, changed := c.session(ec.Request())
	ec.Response().Header().Set("Cache-Control", "no-store")
	if cs.desk != "" {
		if v, ok := c.desks.View(cs.desk); ok {
			if changed {
				if err := c.save(ec, cs); err != nil {
					return err
				}
			}
			page := views.ConsolePage{
				Assets: views.ConsoleAssets{
					CSS:      c.assetURL("console.css"),
					HTMX:     c.assetURL(static.HTMX),
					HTMXWS:   c.assetURL(static.HTMXWS),
					ChatJS:   c.assetURL("chat.js"),
					UploadJS: c.assetURL("upload.js"),
				},
				SocketURL:     Prefix + "/ws",
				SignOutAction: Prefix + "/sign-out",
				CSRF:          cs.csrf,
				Desk:          deskProps(v),
			}
			return web.Render(ec, http.StatusOK, views.ConsoleDesk(page))
		}
		// Signed out, expired, or another node's: sign in again.
		delete(cs.sess.Values, keyDesk)
		changed = true
	}
	if changed {
		if err := c.save(ec, cs); err != nil {
			return err
		}
	}
	return web.Render(ec, http.StatusOK, c.signInPage(cs, "", ""))
}

// handleSignIn logs the agent in with the form's name and password and
// starts its desk.
func (c *Server) handleSignIn(ec echo.Context) error {
	cs, _ := c.session(ec.Request())
	if err := checkCSRF(ec, cs); err != nil {
		return err
	}
	ec.Response().Header().Set("Cache-Control", "no-store")
	name := strings.TrimSpace(ec.FormValue("name"))
	password := ec.FormValue("password")
	if name == "" || password == "" {
		return web.Render(ec, http.StatusBadRequest, c.signInPage(cs, name, "Enter your name and password."))
	}
	client := clientaddr.Key(ec.RealIP())
	nameKey := name + "\x00" + client
	if wait := c.beginSignIn(nameKey, client); wait > 0 {
		c.log.Info("agent sign-in refused: locked out", "agent", short(name), "client", client)
		return c.tooManyAttempts(ec, cs, name, wait)
	}
	id, err := c.desks.SignIn(ec.Request().Context(), name, password)
	switch {
	case errors.Is(err, desks.ErrBadCredentials):
		if locked := max(c.byName.Fail(nameKey), c.byClient.Fail(client)); locked > 0 {
			c.log.Warn("agent sign-in locked out", "agent", short(name), "client", client, "for", locked)
			return c.tooManyAttempts(ec, cs, name, locked)
		}
		c.log.Info("agent sign-in refused", "agent", short(name), "client", client)
		// 200, not 401: the form is shown again, as any sign-in page does
		// (and a browser logs an error for a page answered 4xx).
		return web.Render(ec, http.StatusOK, c.signInPage(cs, name, "Wrong name or password."))
	case errors.Is(err, desks.ErrLockedOut):
		// The service locked the name out (failures from anywhere): not
		// this browser's failure, nor a success.
		c.byName.Drop(nameKey)
		c.byClient.Drop(client)
		c.log.Info("agent sign-in refused: locked out at the service", "agent", short(name), "client", client)
		return c.tooManyAttempts(ec, cs, name, desks.RetryAfter(err))
	case err != nil:
		c.byName.Drop(nameKey)
		c.byClient.Drop(client)
		c.log.Warn("agent sign-in failed", "agent", short(name), "error", err)
		return web.Render(ec, http.StatusServiceUnavailable, c.signInPage(cs, name, "The messaging service is not reachable right now. Please try again in a moment."))
	}
	c.byName.Succeed(nameKey)
	// One good password must not wipe the address's failures on other
	// names.
	c.byClient.Drop(client)
	if old := cs.desk; old != "" {
		c.desks.SignOut(old)
	}
	cs.sess.Values[keyDesk] = id
	// A new token for the signed-in session.
	cs.sess.Values[keyCSRF] = rand.Text()
	if err := c.save(ec, cs); err != nil {
		c.desks.SignOut(id)
		return err
	}
	c.log.Info("agent signed in", "agent", name)
	return ec.Redirect(http.StatusSeeOther, Prefix+"/")
}

// beginSignIn starts a sign-in attempt against both limits, or answers how
// long the browser must wait.
func (c *Server) beginSignIn(nameKey, client string) time.Duration {
	if wait := c.byName.Begin(nameKey); wait > 0 {
		return wait
	}
	if wait := c.byClient.Begin(client); wait > 0 {
		c.byName.Drop(nameKey)
		return wait
	}
	return 0
}

// tooManyAttempts shows the form again with 429, Retry-After and the wait
// in whole minutes (at least one).
func (c *Server) tooManyAttempts(ec echo.Context, cs deskCookie, name string, wait time.Duration) error {
	secs := int64(max(wait, time.Second)+time.Second-1) / int64(time.Second)
	ec.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	mins := (secs + 59) / 60
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return web.Render(ec, http.StatusTooManyRequests, c.signInPage(cs, name, fmt.Sprintf("Too many attempts. Try again in %d %s.", mins, unit)))
}

// short cuts a client-chosen string for the log.
func short(v string) string {
	const n = 64
	if len(v) <= n {
		return v
	}
	return v[:n] + "…"
}

// handleSignOut ends the desk and forgets it.
func (c *Server) handleSignOut(ec echo.Context) error {
	cs, _ := c.session(ec.Request())
	if err := checkCSRF(ec, cs); err != nil {
		return err
	}
	if cs.desk != "" {
		c.desks.SignOut(cs.desk)
		delete(cs.sess.Values, keyDesk)
	}
	cs.sess.Values[keyCSRF] = rand.Text()
	if err := c.save(ec, cs); err != nil {
		return err
	}
	return ec.Redirect(http.StatusSeeOther, Prefix+"/")
}

func (c *Server) handleStatic(ec echo.Context) error {
	return web.ServeAsset(ec, c.assets, Prefix+"/static/")
}

func (c *Server) handleRoot(ec echo.Context) error {
	return ec.Redirect(http.StatusMovedPermanently, Prefix+"/")
}

// routes is the agent console's URL surface, all under Prefix.
func (c *Server) routes() {
	e := c.echo
	web.GetOrHead(e, Prefix, c.handleRoot)
	web.GetOrHead(e, Prefix+"/", c.handleConsole)
	e.POST(Prefix+"/sign-in", c.handleSignIn)
	e.POST(Prefix+"/sign-out", c.handleSignOut)
	e.GET(Prefix+"/ws", c.handleSocket)
	e.POST(uploadPath, c.handleUpload)
	e.GET(filePath, c.handleFile)
	web.GetOrHead(e, Prefix+"/static/:name", c.handleStatic)
	web.GetOrHead(e, Prefix+"/static/vendor/:name", c.handleStatic)
}

// Package web is chatwindow's HTTP surface: the Echo server, its routes,
// the session cookie, the browser socket and the rendering of views. It is
// the only package that knows Echo and gorilla/sessions.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/imageproxy"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
)

// Config is the web layer's part of chatwindow's configuration.
type Config struct {
	// SessionKeys are gorilla/securecookie key pairs (hash key, then
	// encryption key; 32 or 64 and 32 bytes). Several pairs: the first
	// signs, all are accepted (key rotation).
	SessionKeys [][]byte
	// Secure marks the cookie Secure (anything but plain-HTTP localhost).
	Secure bool
	// SessionMaxAge is the cookie's absolute lifetime.
	SessionMaxAge time.Duration
	// FrameAncestors is the CSP frame-ancestors source list ('self' by
	// default; a brand that embeds the window adds its origin).
	FrameAncestors string
	// Signup returns a new consumer token: the identity of a new session.
	Signup func(ctx context.Context) (string, error)
	// MaxFrame bounds a browser socket frame.
	MaxFrame int64
	// TrustedProxies are the reverse proxies in front of this server: a
	// request from one of them is attributed (rate limit, logs) to the
	// address it names in X-Forwarded-For. None: the direct peer counts.
	TrustedProxies []*net.IPNet
	// PingInterval and PingTimeout keep page sockets honest: a page that
	// answers no ping within PingTimeout is cut (0: 20 s and 10 s).
	PingInterval, PingTimeout time.Duration
	// Metrics, if any, gets what the node measures (relay latency, at the
	// page socket's write). It is served elsewhere (the operators' own
	// listener), never by this server.
	Metrics *metrics.Metrics
	// SocketsPerClient caps the sockets (the window's and the inspector's)
	// one client address holds open: an IPv4 address or an IPv6 /64, as
	// RealIP names it (0: no cap).
	SocketsPerClient int
	// QA serves the QA view (/qa: the window, the agent console and the
	// protocol inspector side by side). It is a tool for the embedded
	// service: a QA page opens a session of its own, and the inspector
	// shows the session's frames.
	QA bool
	// SignupRate and SignupBurst bound the identities one client address
	// may ask for (a new visitor's first message); 0: 1 every 6 s after a
	// burst of 10; a negative burst: no bound.
	SignupRate  float64
	SignupBurst int
	// ConsoleURL is the agent console's URL, framed by the QA view (/qa)
	// beside the customer's window; empty: /qa shows where it would be.
	// The console must allow this server's origin in its frame-ancestors.
	ConsoleURL string
	// ImageProxy configures the fetches of card images (zero: production).
	ImageProxy imageproxy.Config
}

// Server is the chat window's HTTP server.
type Server struct {
	log    *slog.Logger
	cfg    Config
	assets *static.Assets
	relay  *relay.Manager
	cookie sessionCookie
	echo   *echo.Echo
	// pages counts the tabs' socket goroutines (see handleSocket).
	pages sync.WaitGroup
	// sockets counts the open sockets per client address.
	sockets *connlimit.Counter
	// signups limits new identities per client address.
	signups *middleware.RateLimiterMemoryStore
	// images renders and serves card images (images.go).
	images images
}

// Wait blocks until every tab's socket has been served to its end: call
// it once the relay has let every tab go (relay.Manager.Shutdown or its
// context's end).
func (s *Server) Wait() { s.pages.Wait() }

// NewServer wires the Echo instance and every route.
func NewServer(logger *slog.Logger, cfg Config, assets *static.Assets, mgr *relay.Manager) (*Server, error) {
	if len(cfg.SessionKeys) == 0 || len(cfg.SessionKeys)%2 != 0 {
		return nil, errors.New("web: session keys must come in pairs (hash, encryption)")
	}
	if cfg.Signup == nil {
		return nil, errors.New("web: no signup")
	}
	if cfg.SessionMaxAge == 0 {
		cfg.SessionMaxAge = 7 * 24 * time.Hour
	}
	if cfg.FrameAncestors == "" {
		cfg.FrameAncestors = "'self'"
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = 32 << 10
	}
	if cfg.SignupRate == 0 {
		cfg.SignupRate = 1.0 / 6
	}
	if cfg.SignupBurst == 0 {
		cfg.SignupBurst = 10
	}
	s := &Server{log: logger, cfg: cfg, assets: assets, relay: mgr, sockets: connlimit.NewCounter(cfg.SocketsPerClient)}
	if cfg.SignupBurst > 0 {
		s.signups = middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(cfg.SignupRate), Burst: cfg.SignupBurst, ExpiresIn: 10 * time.Minute,
		})
	}
	s.cookie = newSessionCookie("chatwindow", "/", cfg.SessionKeys, cfg.SessionMaxAge, cfg.Secure)
	s.images = images{newCardImages(cfg.SessionKeys, assets), imageproxy.New(cfg.ImageProxy)}

	s.echo = newEcho(logger, cfg.FrameAncestors, windowImgSrc, cfg.TrustedProxies)
	s.routes()
	return s, nil
}

// newEcho is the Echo instance every server of this package starts from
// (the chat window and the agent console): the one error handler, the
// security headers (with the server's CSP img-src), no trusted proxy
// headers.
func newEcho(logger *slog.Logger, frameAncestors, imgSrc string, trusted []*net.IPNet) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(discard{})
	// The client's address is the direct peer's, unless that peer is one
	// of the configured proxies: then the address it forwards. Nothing else
	// is trusted (X-Forwarded-For is anyone's to write).
	e.IPExtractor = echo.ExtractIPDirect()
	if len(trusted) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range trusted {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.HTTPErrorHandler = errorHandler(logger)
	e.Use(middleware.Recover())
	// Every answer names its request; the error log says which. The id is
	// ours, unless a configured proxy in front gave one fit for a log.
	e.Use(dropClientRequestID(trusted))
	e.Use(middleware.RequestID())
	e.Use(securityHeaders(frameAncestors, imgSrc))
	// Nothing this server takes is large: forms and the page's frames.
	e.Use(middleware.BodyLimit(bodyLimit))
	// Per client address (the direct peer: see IPExtractor), generous
	// for people, a wall for floods.
	e.Use(middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: requestsPerSecond, Burst: requestBurst, ExpiresIn: 3 * time.Minute,
		}),
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many requests. Please wait a moment.")
		},
	}))
	return e
}

// Limits of every request, whatever the route.
const (
	bodyLimit         = "64K"
	requestsPerSecond = 20
	requestBurst      = 100
)

// signupAllowed reports whether the client at addr may have one more new
// identity now.
func (s *Server) signupAllowed(addr string) bool {
	if s.signups == nil {
		return true // no bound
	}
	ok, _ := s.signups.Allow(addr)
	return ok
}

// dropClientRequestID keeps the id a trusted proxy sent with the request
// (so one request can be followed through both logs) when it is short and
// plain, and drops any other: RequestID then makes one of ours. A client's
// own X-Request-Id is never echoed or logged: anyone can write one, of any
// length.
func dropClientRequestID(trusted []*net.IPNet) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if id := r.Header.Get(echo.HeaderXRequestID); id != "" && !(fromProxy(r, trusted) && plainID(id)) {
				r.Header.Del(echo.HeaderXRequestID)
			}
			return next(c)
		}
	}
}

// fromProxy reports whether the request's direct peer is a trusted proxy.
func fromProxy(r *http.Request, trusted []*net.IPNet) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range trusted {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// plainID reports whether a proxy's request id is fit for a log line: up
// to 64 letters, digits, '-', '_' or '.'.
func plainID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// securityHeaders sets the CSP (no inline script or style anywhere) and its
// companions on every answer.
func securityHeaders(frameAncestors, imgSrc string) echo.MiddlewareFunc {
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + imgSrc + "; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + frameAncestors
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			return next(c)
		}
	}
}

// errorHandler logs once and answers with a short page or text.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) { handleError(log, err, c) }
}

func handleError(log *slog.Logger, err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "Something went wrong. Please try again."
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	}
	id := c.Response().Header().Get(echo.HeaderXRequestID)
	if code >= 500 {
		log.Error("request failed", "request_id", id, "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
	} else {
		log.Debug("request refused", "request_id", id, "method", c.Request().Method, "path", c.Request().URL.Path, "code", code, "error", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	_ = c.String(code, msg)
}

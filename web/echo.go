// Package web is what chatwindow's HTTP surfaces share: the Echo server
// each starts from (one error handler, security headers, request ids,
// limits), the session cookie, the same-origin check, rendering and
// embedded assets. The surfaces are its sub-packages: the customer's
// window (web/window), the agent console (web/console) and the QA view
// (web/qa), whose pages' sockets are served one way (web/pagesocket);
// web/node wires them. Only web and its sub-packages know Echo and
// gorilla/sessions.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// EchoConfig is what differs between the surfaces' Echo servers.
type EchoConfig struct {
	// FrameAncestors is the CSP frame-ancestors source list: who may frame
	// the surface's pages.
	FrameAncestors string
	// ImgSrc is the CSP img-src source list.
	ImgSrc string
	// ScriptSrc, StyleSrc and FrameSrc are sources allowed besides the
	// surface's own ('self'): the scripts and stylesheets it loads and the
	// pages it frames from another origin (the demo site's: the window's
	// launcher and panel). Empty: none.
	ScriptSrc, StyleSrc, FrameSrc string
	// Trusted are the reverse proxies in front: a request from one of them
	// is attributed (rate limit, logs) to the address it names in
	// X-Forwarded-For. None: the direct peer counts.
	Trusted []*net.IPNet
	// OwnBodyLimit are the paths whose handlers bound their bodies
	// themselves (a file upload), above the body limit of every other.
	OwnBodyLimit []string
}

// NewEcho is the Echo instance every surface starts from: the one error
// handler, the security headers, request ids, a body limit and a rate
// limit per client address, no proxy headers but the trusted proxies'.
func NewEcho(logger *slog.Logger, cfg EchoConfig) *echo.Echo {
	trusted := cfg.Trusted
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
	e.Use(securityHeaders(cfg))
	// Nothing this server takes is large: forms and the page's frames.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit:   bodyLimit,
		Skipper: func(c echo.Context) bool { return slices.Contains(cfg.OwnBodyLimit, c.Request().URL.Path) },
	}))
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

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// securityHeaders sets the CSP (no inline script or style anywhere) and its
// companions on every answer.
func securityHeaders(cfg EchoConfig) echo.MiddlewareFunc {
	also := func(src string) string {
		if src == "" {
			return "'self'"
		}
		return "'self' " + src
	}
	csp := "default-src 'self'; script-src " + also(cfg.ScriptSrc) + "; style-src " + also(cfg.StyleSrc) + "; img-src " + cfg.ImgSrc + "; "
	if cfg.FrameSrc != "" {
		csp += "frame-src " + cfg.FrameSrc + "; "
	}
	csp += "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + cfg.FrameAncestors
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

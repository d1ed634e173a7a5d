// Package window is the customer's chat window: its page, its socket (a
// tab of the customer's relay session), the visitor's identity in the
// session cookie, the card images it proxies, and the fragments the
// sessions render for its tabs. The QA view (web/qa) is served beside it,
// on the same cookie.
package window

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/chatwindow/chatwindow/internal/hours"
	"github.com/chatwindow/chatwindow/internal/imageproxy"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web"
	"github.com/chatwindow/chatwindow/web/pagesocket"
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
	// NewIdentity, if set, makes a new session's identity instead of
	// Signup: the unauthenticated connector's, with its id_token.
	NewIdentity func(ctx context.Context) (relay.Identity, error)
	// AuthMethod, if set, signs customers in through the brand: it names
	// the embedding page's JavaScript function (LivePerson's "JS Method
	// Name") that the page calls for the brand's JWT or code, which it
	// posts to the window; Authenticate exchanges that for LivePerson's
	// token, the only one the cookie keeps (identity.go).
	AuthMethod   string
	Authenticate func(ctx context.Context, req protocol.AuthenticateRequest) (string, error)
	// Hours are the contact center's office hours: outside them the window
	// says when agents answer (nil: always open).
	Hours *hours.Schedule
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
	// MaxUpload is the largest file a customer may send (0:
	// DefaultMaxUpload, also the most it may be; negative: customers send
	// no files).
	MaxUpload int64
	// UploadRate and UploadBurst bound the files one client address may
	// send; 0: 1 every 6 s after a burst of 10.
	UploadRate  float64
	UploadBurst int
	// Brand is how the window and its launcher look on the brand's site
	// (zero: the window's own look; docs/embedding.md).
	Brand Brand
}

// Server is the chat window's HTTP server.
type Server struct {
	log    *slog.Logger
	cfg    Config
	assets *static.Assets
	relay  *relay.Manager
	cookie web.SessionCookie
	echo   *echo.Echo
	// sockets serves and counts the tabs' and the inspector's sockets.
	sockets *pagesocket.Server
	// signups limits new identities per client address.
	signups *middleware.RateLimiterMemoryStore
	// images renders and serves card images (images.go).
	images images
	// brand holds embed.js and the brand's stylesheet and logo (embed.go).
	brand brandFiles
	// downloads holds a place per file download under way, which gets
	// fileTimeout (files.go).
	downloads   chan struct{}
	fileTimeout time.Duration
	// uploads receives the customers' files (upload.go; nil: they send
	// none); uploadsPerClient limits them per client address.
	uploads          *web.Uploads
	uploadsPerClient *middleware.RateLimiterMemoryStore
}

// Wait blocks until every tab's socket has been served to its end: call
// it once the relay has let every tab go (relay.Manager.Shutdown or its
// context's end).
func (s *Server) Wait() { s.sockets.Wait() }

// New wires the Echo instance and every route.
func New(logger *slog.Logger, cfg Config, assets *static.Assets, mgr *relay.Manager) (*Server, error) {
	if len(cfg.SessionKeys) == 0 || len(cfg.SessionKeys)%2 != 0 {
		return nil, errors.New("window: session keys must come in pairs (hash, encryption)")
	}
	switch {
	case cfg.AuthMethod != "" && cfg.Authenticate == nil:
		return nil, errors.New("window: authenticated customers need Authenticate")
	case cfg.AuthMethod == "" && cfg.Signup == nil && cfg.NewIdentity == nil:
		return nil, errors.New("window: no signup")
	}
	if cfg.NewIdentity == nil && cfg.Signup != nil {
		signup := cfg.Signup
		cfg.NewIdentity = func(ctx context.Context) (relay.Identity, error) {
			tok, err := signup(ctx)
			return relay.Identity{Token: tok}, err
		}
	}
	if cfg.SessionMaxAge == 0 {
		cfg.SessionMaxAge = 7 * 24 * time.Hour
	}
	if cfg.FrameAncestors == "" {
		cfg.FrameAncestors = "'self'"
	}
	if err := cfg.Brand.Check(); err != nil {
		return nil, fmt.Errorf("window: %w", err)
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
	if cfg.MaxUpload > DefaultMaxUpload {
		return nil, fmt.Errorf("window: MaxUpload %d: a file may be up to %d bytes (LivePerson's 3 MB)", cfg.MaxUpload, DefaultMaxUpload)
	}
	cfg.MaxUpload = cfg.maxUpload()
	if cfg.UploadRate == 0 {
		cfg.UploadRate = 1.0 / 6
	}
	if cfg.UploadBurst == 0 {
		cfg.UploadBurst = 10
	}
	s := &Server{log: logger, cfg: cfg, assets: assets, relay: mgr, downloads: make(chan struct{}, maxDownloads), fileTimeout: fileTimeout}
	if cfg.MaxUpload > 0 {
		s.uploads = web.NewUploads(cfg.MaxUpload, maxUploads)
	}
	if cfg.UploadBurst > 0 {
		s.uploadsPerClient = middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(cfg.UploadRate), Burst: cfg.UploadBurst, ExpiresIn: 10 * time.Minute,
		})
	}
	s.sockets = pagesocket.New(pagesocket.Config{
		Logger: logger, Secure: cfg.Secure, PerClient: cfg.SocketsPerClient,
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, Metrics: cfg.Metrics,
	})
	if cfg.SignupBurst > 0 {
		s.signups = middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(cfg.SignupRate), Burst: cfg.SignupBurst, ExpiresIn: 10 * time.Minute,
		})
	}
	var err error
	if s.brand, err = newBrandFiles(cfg.Brand, cfg.AuthMethod, assets); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	s.cookie = web.NewSessionCookie("chatwindow", "/", cfg.SessionKeys, cfg.SessionMaxAge, cfg.Secure)
	s.images = images{newCardImages(cfg.SessionKeys, assets), imageproxy.New(cfg.ImageProxy)}

	s.echo = web.NewEcho(logger, web.EchoConfig{FrameAncestors: cfg.FrameAncestors, ImgSrc: imgSrc, Trusted: cfg.TrustedProxies,
		OwnBodyLimit: []string{uploadPath}})
	s.routes()
	return s, nil
}

// signupAllowed reports whether the client at addr may have one more new
// identity now.
func (s *Server) signupAllowed(addr string) bool {
	if s.signups == nil {
		return true // no bound
	}
	ok, _ := s.signups.Allow(addr)
	return ok
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

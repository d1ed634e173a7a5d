package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web/console"
)

// ConsoleConfig is what the program decides for the agent console in
// front of the embedded service.
type ConsoleConfig struct {
	// Logger is the console's; each part logs with its component
	// (default: nowhere).
	Logger *slog.Logger
	// Service is the embedded service: everything outside
	// console.Prefix goes to it.
	Service http.Handler
	// ServiceURL and Account are where the console's agents reach the
	// service: through the messaging client, like any client, with
	// HTTPClient (which trusts the service's certificate).
	ServiceURL, Account string
	HTTPClient          *http.Client
	// Web configures the console's web server.
	Web console.Config
	// Skills are the skill ids an agent may transfer a conversation to
	// (the service's).
	Skills []string
	// Grace is how long a desk stays signed in after its last tab left;
	// SignInTimeout bounds a sign-in's wait for its first connection
	// (zero: console's defaults).
	Grace, SignInTimeout time.Duration
}

// Console is the agent console in front of the embedded service: an
// http.Handler and the desks behind it.
type Console struct {
	mux    *http.ServeMux
	desks  *desks.Manager
	server *console.Server
}

// NewConsole wires the agent console, whose desks live until ctx ends.
func NewConsole(ctx context.Context, cfg ConsoleConfig) (*Console, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mgr := desks.NewManager(ctx, desks.Config{
		Logger:        logger.With("component", "console"),
		Renderer:      console.NewRenderer(),
		Grace:         cfg.Grace,
		SignInTimeout: cfg.SignInTimeout,
		Skills:        cfg.Skills,
		HTTPClient:    cfg.HTTPClient,
		Agent: func(ctx context.Context, username, password string) (desks.Upstream, error) {
			ep, err := messaging.Discover(ctx, cfg.HTTPClient, cfg.ServiceURL, cfg.Account, messaging.Overrides{})
			if err != nil {
				return nil, fmt.Errorf("discover %s: %w", cfg.Account, err)
			}
			return messaging.NewAgent(messaging.AgentConfig{
				Endpoints: ep, Username: username, Password: password, HTTPClient: cfg.HTTPClient,
				SessionOptions: messaging.SessionOptions{Logger: logger.With("component", "console-agent", "agent", username)},
			})
		},
	})
	assets, err := static.Load()
	if err != nil {
		return nil, fmt.Errorf("agent console: %w", err)
	}
	con, err := console.New(logger.With("component", "console-web"), cfg.Web, assets, mgr)
	if err != nil {
		return nil, fmt.Errorf("agent console: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle(console.Prefix+"/", con)
	mux.Handle("/", cfg.Service)
	return &Console{mux: mux, desks: mgr, server: con}, nil
}

// ServeHTTP serves the console under console.Prefix and the service
// everywhere else.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Wait blocks until the console's desks ended (its context ended), and
// their tabs' sockets with them.
func (c *Console) Wait() {
	c.desks.Wait()
	c.server.Wait()
}

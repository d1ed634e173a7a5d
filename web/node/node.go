// Package node wires what one chatwindow process serves, from a Config:
// the chat window (its relay sessions, their upstream consumers and its
// web server) and, in front of the embedded service, the agent console
// (its desks and their agent connections). cmd/chatwindow builds them; the
// tests build theirs here too, so that they run the wiring the program
// runs.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web/window"
)

// Config is what the program decides for a chat window node.
type Config struct {
	// Logger is the node's; each part logs with its component (default:
	// nowhere).
	Logger *slog.Logger
	// Endpoints are the messaging service's hosts (messaging.Discover),
	// reached with HTTPClient.
	Endpoints  messaging.Endpoints
	HTTPClient *http.Client
	// Web configures the web server. Its Signup (nil: a new identity from
	// the service at Endpoints) also gives a session whose token the
	// service refused a new one; its SessionKeys also sign the card images
	// the sessions render; its Metrics also count the sessions; its QA
	// also has the sessions keep their frames for the protocol inspector.
	Web window.Config
	// Grace is how long a session keeps its upstream after its last tab
	// left; MaxTabs bounds a session's tabs (zero: relay's defaults).
	Grace   time.Duration
	MaxTabs int
	// Backoff paces the upstream reconnects (zero: messaging's default).
	Backoff messaging.Backoff
	// Campaign, if any, is the campaignInfo of every conversation request.
	Campaign *protocol.CampaignInfo
	// Identity is how customers get their identity (docs/protocol.md,
	// Identity); zero: a demo signup each (Web.Signup).
	Identity Identity
}

// Identity chooses the customers' identity: at most one field is set.
type Identity struct {
	// ConnectorID: customers of the unauthenticated connector
	// (LP_CONNECTOR_ID): an id_token from the IDP's anonymous/authorize,
	// exchanged at the connector's authenticate; a refused token is
	// renewed with the id_token, as the same consumer.
	ConnectorID string
	// AuthMethod: authenticated customers (CHATWINDOW_AUTH_METHOD): the
	// name of the embedding page's JavaScript function that signs the
	// customer in with the brand; its answer is exchanged at the IDP's
	// authenticate, and a refused token makes the window ask the page
	// again.
	AuthMethod string
}

// Upstream settings of every session.
const (
	// upstreamPing finds a service that stopped answering within 30 s
	// (ping every 20 s, answered within the 10 s request timeout).
	upstreamPing = 20 * time.Second
	// upstreamBuffer: the session's loop drains the updates at once; a
	// small buffer keeps an idle session small (the connection's own
	// queue absorbs a burst).
	upstreamBuffer = 32
)

// Node is one chat window: an http.Handler and the sessions behind it.
type Node struct {
	relay  *relay.Manager
	server *window.Server
	assets *static.Assets
	// end ends the sessions' context.
	end context.CancelFunc
}

// New wires a chat window node whose sessions live until ctx ends or
// Close; either way, Close waits for them.
func New(ctx context.Context, cfg Config) (*Node, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Identity.ConnectorID != "" && cfg.Identity.AuthMethod != "" {
		return nil, errors.New("window: customers are either of the unauthenticated connector or authenticated, not both")
	}
	if cfg.Web.Signup == nil {
		cfg.Web.Signup = messaging.SignupToken(cfg.HTTPClient, cfg.Endpoints)
	}
	renew := identities(&cfg, logger)
	assets, err := static.Load()
	if err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	ctx, end := context.WithCancel(ctx)
	mgr := relay.NewManager(ctx, relay.Config{
		Metrics: cfg.Web.Metrics,
		// The QA view's protocol inspector records only where it is served.
		NoInspector:  !cfg.Web.QA,
		Logger:       logger.With("component", "relay"),
		Renderer:     window.ConfigRenderer(cfg.Web, assets),
		Grace:        cfg.Grace,
		MaxTabs:      cfg.MaxTabs,
		Connect:      connect(cfg, logger),
		Renew:        renew,
		SignInByPage: cfg.Identity.AuthMethod != "",
		Campaign:     cfg.Campaign,
		// Each session announces its customer's browser.
		ClientProperties: messaging.BrowserClientProperties,
		HTTPClient:       cfg.HTTPClient,
	})
	srv, err := window.New(logger.With("component", "web"), cfg.Web, assets, mgr)
	if err != nil {
		end()
		return nil, fmt.Errorf("window: %w", err)
	}
	return &Node{relay: mgr, server: srv, assets: assets, end: end}, nil
}

// connect is the relay's factory of upstream connections: one consumer
// per session, on the session's token source.
func connect(cfg Config, logger *slog.Logger) func(relay.Identity, messaging.TokenSource, func(bool, []byte)) (relay.Upstream, error) {
	return func(id relay.Identity, tokens messaging.TokenSource, tap func(bool, []byte)) (relay.Upstream, error) {
		// The consumer's id (not a secret) ties these lines to the
		// session's own (relay logs it with the session id).
		sub, _ := messaging.Subject(id.Token)
		return messaging.NewConsumer(messaging.ConsumerConfig{
			Endpoints:  cfg.Endpoints,
			HTTPClient: cfg.HTTPClient,
			Token:      tokens,
			SessionOptions: messaging.SessionOptions{
				Logger:       logger.With("component", "upstream", "consumer_id", sub),
				Backoff:      cfg.Backoff,
				UpdateBuffer: upstreamBuffer,
			},
			Tap:          tap, // the session's protocol inspector
			PingInterval: upstreamPing,
		})
	}
}

// ServeHTTP serves the chat window.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.server.ServeHTTP(w, r) }

// Relay is the node's sessions.
func (n *Node) Relay() *relay.Manager { return n.relay }

// Assets are the static files the window serves (their hashed names).
func (n *Node) Assets() *static.Assets { return n.assets }

// Drain stops taking tabs and has every session publish what it has due
// and end, letting its tabs go; it returns ctx's error when ctx ends
// first (Close then ends the sessions left).
func (n *Node) Drain(ctx context.Context) error { return n.relay.Shutdown(ctx) }

// Close ends the node's sessions, which lets their tabs go, and waits for
// them and for every tab's socket to be served to its end.
func (n *Node) Close() {
	n.end()
	n.relay.Wait()
	n.server.Wait()
}

package node

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// identities wires how customers get their identity (Config.Identity) into
// the window (a new visitor's, the page's sign-in) and returns how a
// session's refused token is renewed (relay.Config.Renew): nil for
// authenticated customers, whom only their page signs in again.
func identities(cfg *Config, logger *slog.Logger) func(context.Context, relay.Identity) (relay.Identity, error) {
	hc, ep := cfg.HTTPClient, cfg.Endpoints
	switch {
	case cfg.Identity.AuthMethod != "":
		cfg.Web.AuthMethod = cfg.Identity.AuthMethod
		if cfg.Web.Authenticate == nil {
			cfg.Web.Authenticate = func(ctx context.Context, req protocol.AuthenticateRequest) (string, error) {
				return messaging.AuthenticateCode(ctx, hc, ep, req)
			}
		}
		return nil
	case cfg.Identity.ConnectorID != "":
		connector := cfg.Identity.ConnectorID
		log := logger.With("component", "identity")
		newIdentity := func(ctx context.Context) (relay.Identity, error) {
			id, err := messaging.NewConnectorIdentity(ctx, hc, ep, connector)
			if err != nil {
				return relay.Identity{}, err
			}
			return relay.Identity{Token: id.Token, IDToken: id.IDToken}, nil
		}
		if cfg.Web.NewIdentity == nil {
			cfg.Web.NewIdentity = newIdentity
		}
		// The same consumer when the id_token may still be refreshed;
		// past its refresh period (or for a cookie without one), a new
		// identity: the window then starts afresh and says so.
		return func(ctx context.Context, id relay.Identity) (relay.Identity, error) {
			if id.IDToken != "" {
				next, err := messaging.ExtendConnectorIdentity(ctx, hc, ep, connector, id.IDToken)
				if err == nil {
					return relay.Identity{Token: next.Token, IDToken: next.IDToken}, nil
				}
				if messaging.Classify(err) != messaging.RefreshToken {
					return relay.Identity{}, fmt.Errorf("extend the connector identity: %w", err)
				}
				log.Info("the connector identity cannot be extended: a new one", "error", err)
			}
			return newIdentity(ctx)
		}
	}
	signup := cfg.Web.Signup
	// A demo signup cannot be extended (docs/protocol.md, Identity): a new
	// one is a new consumer.
	return func(ctx context.Context, _ relay.Identity) (relay.Identity, error) {
		tok, err := signup(ctx)
		return relay.Identity{Token: tok}, err
	}
}

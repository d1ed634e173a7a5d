package messaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The Op of a StatusError of the connector's two calls, which tell a
// refused id_token (authorize) from an unknown connector (authenticate).
const (
	OpAnonymousAuthorize    = "anonymous authorize"
	OpConnectorAuthenticate = "connector authenticate"
)

// The unauthenticated connector's flow (LivePerson's Unauthenticated
// Messaging page; docs/protocol.md, Identity): the IDP's
// anonymous/authorize issues an external id_token, and the connector's
// authenticate exchanges it for the socket's consumer token. A token that
// expired is extended by refreshing the id_token (anonymous/authorize with
// the previous one) and exchanging it again: the same identity, so the
// same consumer with its open conversation.

// ConnectorIdentity is a customer of the unauthenticated connector: the
// id_token that renews it and the consumer token of the socket.
type ConnectorIdentity struct {
	IDToken string
	Token   string
}

// AnonymousAuthorize asks the IDP for an unauthenticated id_token:
// previous empty for a new identity, else that identity's previous
// id_token, refreshed. A refused one (past its refresh period, or not the
// IDP's) is a *StatusError with 401.
func AnonymousAuthorize(ctx context.Context, hc *http.Client, ep Endpoints, previous string) (string, error) {
	if ep.IDP == "" {
		return "", errors.New("anonymous authorize: no idp host")
	}
	u := ep.httpURL(ep.IDP, protocol.Path(protocol.PathAnonymousAuthorize, ep.Account), nil)
	// A new identity is asked with no body, as the page's Step 1 does.
	var body any
	if previous != "" {
		body = protocol.IDTokenRequest{IDToken: previous}
	}
	var resp protocol.TokenResponse
	if err := doJSON(ctx, hc, OpAnonymousAuthorize, http.MethodPost, u, body, &resp); err != nil {
		return "", err
	}
	if resp.Token == "" {
		return "", fmt.Errorf("anonymous authorize %s: answer has no token", u)
	}
	return resp.Token, nil
}

// ConnectorAuthenticate exchanges an id_token at the connector's
// authenticate for a consumer token. An unknown connector is a
// *StatusError with 404; an expired or foreign id_token one with 401.
func ConnectorAuthenticate(ctx context.Context, hc *http.Client, ep Endpoints, connector, idToken string) (string, error) {
	if ep.IDP == "" {
		return "", errors.New("connector authenticate: no idp host")
	}
	if connector == "" {
		return "", errors.New("connector authenticate: no connector id")
	}
	path := protocol.Path(protocol.PathConnectorAuthenticate, ep.Account, connector)
	u := ep.httpURL(ep.IDP, path, url.Values{"v": {protocol.ConnectorVersion}})
	var resp protocol.TokenResponse
	if err := doJSON(ctx, hc, OpConnectorAuthenticate, http.MethodPost, u, protocol.IDTokenRequest{IDToken: idToken}, &resp); err != nil {
		return "", err
	}
	if resp.Token == "" {
		return "", fmt.Errorf("connector authenticate %s: answer has no token", u)
	}
	return resp.Token, nil
}

// NewConnectorIdentity makes a new customer of the connector: a new
// id_token, exchanged for its consumer token.
func NewConnectorIdentity(ctx context.Context, hc *http.Client, ep Endpoints, connector string) (ConnectorIdentity, error) {
	idToken, err := AnonymousAuthorize(ctx, hc, ep, "")
	if err != nil {
		return ConnectorIdentity{}, err
	}
	tok, err := ConnectorAuthenticate(ctx, hc, ep, connector, idToken)
	if err != nil {
		return ConnectorIdentity{}, err
	}
	return ConnectorIdentity{IDToken: idToken, Token: tok}, nil
}

// ExtendConnectorIdentity extends the identity of idToken: the id_token
// refreshed, exchanged for a fresh consumer token of the same consumer. A
// refusal of the refresh (Classify: RefreshToken) means the identity
// cannot be kept.
func ExtendConnectorIdentity(ctx context.Context, hc *http.Client, ep Endpoints, connector, idToken string) (ConnectorIdentity, error) {
	if idToken == "" {
		return ConnectorIdentity{}, errors.New("extend connector identity: no id_token")
	}
	fresh, err := AnonymousAuthorize(ctx, hc, ep, idToken)
	if err != nil {
		return ConnectorIdentity{}, fmt.Errorf("refresh the id_token: %w", err)
	}
	tok, err := ConnectorAuthenticate(ctx, hc, ep, connector, fresh)
	if err != nil {
		return ConnectorIdentity{}, err
	}
	return ConnectorIdentity{IDToken: fresh, Token: tok}, nil
}

package protocol

import "fmt"

// Service names of the domain API (CSDS). They are case sensitive.
const (
	ServiceAsyncMessagingEnt = "asyncMessagingEnt"
	ServiceIDP               = "idp"
	ServiceAgentVep          = "agentVep"
	// ServiceFacadeMsg is where node-agent-sdk 1.4 dials the agent socket
	// (docs/protocol.md, Discovery).
	ServiceFacadeMsg = "facadeMsg"
	// ServiceSwift is the file storage's host (Connector API, Send API
	// Examples, File Sharing: "providing the following service name:
	// swift"); docs/protocol.md, Files.
	ServiceSwift = "swift"
)

// Paths of the HTTP services and sockets, with the account (and bearer)
// filled in by the caller through fmt.Sprintf.
const (
	PathDomain         = "/api/account/%s/service/baseURI.json"
	PathSignup         = "/api/account/%s/signup"
	PathAuthenticate   = "/api/account/%s/authenticate"
	PathAgentLogin     = "/api/account/%s/login"
	PathAgentRefresh   = "/api/account/%s/refresh"
	PathConsumerSocket = "/ws_api/account/%s/messaging/consumer"
	PathAgentSocket    = "/ws_api/account/%s/messaging/brand/%s"

	DomainVersion   = "1.0"
	LoginVersion    = "1.3"
	ConsumerVersion = "3"
	AgentVersion    = "2.1"
)

// Path fills a path template with the account (and further arguments).
func Path(template, account string, more ...string) string {
	args := []any{account}
	for _, m := range more {
		args = append(args, m)
	}
	return fmt.Sprintf(template, args...)
}

// BaseURIs is the domain API's answer.
type BaseURIs struct {
	BaseURIs List[BaseURI] `json:"baseURIs"`
}

// BaseURI is one service's host for an account.
type BaseURI struct {
	Service string `json:"service"`
	Account ID     `json:"account"`
	BaseURI string `json:"baseURI"`
}

// Lookup returns the host of a service, and whether it was listed.
func (b BaseURIs) Lookup(service string) (string, bool) {
	for _, u := range b.BaseURIs {
		if u.Service == service {
			return u.BaseURI, true
		}
	}
	return "", false
}

// SignupResponse is the IDP's answer to signup and authenticate.
type SignupResponse struct {
	JWT string `json:"jwt"`
}

// AuthenticateRequest is the body of the IDP's authenticate: the brand's
// JWT (implicit flow) or OAuth code (code flow) in authCode; RedirectURI is
// the code flow's redirect_uri, when the brand's page gave one.
type AuthenticateRequest struct {
	AuthCode    string `json:"authCode"`
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// LoginRequest is the body of the agent login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the agent login's answer; the agent SDK fails without
// config.userId.
type LoginResponse struct {
	Bearer string      `json:"bearer"`
	CSRF   string      `json:"csrf"`
	Config LoginConfig `json:"config"`
	// SessionTTL is the session's lifetime in milliseconds, as a string
	// (the Login Service API's "sessionTTl"); empty when not given.
	SessionTTL string `json:"sessionTTl,omitempty"`
}

// LoginConfig carries an agent's two ids (docs/protocol.md, Agent login).
type LoginConfig struct {
	UserID    string `json:"userId"`
	UserPID   string `json:"userPid"`
	AccountID string `json:"accountId,omitempty"`
	LoginName string `json:"loginName,omitempty"`
}

// RefreshRequest is the body of the agent session refresh.
type RefreshRequest struct {
	CSRF string `json:"csrf"`
}

// HTTPError is the body of an HTTP error answer.
type HTTPError struct {
	Error string `json:"error"`
}

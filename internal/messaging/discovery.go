package messaging

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// ErrNoMessaging is wrapped by Discover's error when the domain API lists
// no consumer messaging host for the account.
var ErrNoMessaging = errors.New("the domain API lists no messaging service")

// DefaultCSDS is LivePerson's production domain API.
const DefaultCSDS = "https://api.liveperson.net"

// Endpoints are an account's hosts, found through the domain API (CSDS). The
// scheme of the domain API's URL is used for every host: "https" (and "wss")
// for LivePerson, "http" (and "ws") for an embedded service on loopback.
type Endpoints struct {
	Scheme            string // "https" or "http"
	Account           string
	AsyncMessagingEnt string // host[:port] of the messaging sockets
	IDP               string // host[:port] of the consumer token service
	AgentVep          string // host[:port] of the agent login service
	// Swift is the host[:port] of the file storage (docs/protocol.md,
	// Files); empty when the domain API lists none, or was not asked.
	Swift string
}

// Overrides replace discovered hosts (LP_ASYNCMESSAGINGENT, LP_IDP). Empty
// fields are discovered.
type Overrides struct {
	AsyncMessagingEnt string
	IDP               string
	AgentVep          string
}

// StatusError is an HTTP answer (or a socket handshake refusal) that was not
// a success.
type StatusError struct {
	Op         string // what was attempted, e.g. "signup"
	URL        string
	StatusCode int
	Text       string // the answer's error text, when it had one
	// RetryAfter is the answer's Retry-After in seconds (0 when absent or
	// not in seconds): how long a 429 or 503 asks the client to wait.
	RetryAfter time.Duration
}

func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

func (e *StatusError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("%s %s: HTTP %d: %s", e.Op, e.URL, e.StatusCode, e.Text)
	}
	return fmt.Sprintf("%s %s: HTTP %d", e.Op, e.URL, e.StatusCode)
}

// Discover looks the account's hosts up in the domain API at csdsURL (a URL
// such as "https://api.liveperson.net" or "http://127.0.0.1:9090"; a bare
// host means https). Hosts set in ov are used as given; when all three are
// set the domain API is not asked. hc nil means http.DefaultClient.
func Discover(ctx context.Context, hc *http.Client, csdsURL, account string, ov Overrides) (Endpoints, error) {
	if account == "" {
		return Endpoints{}, errors.New("discover: no account")
	}
	if csdsURL == "" {
		csdsURL = DefaultCSDS
	}
	if !strings.Contains(csdsURL, "://") {
		csdsURL = "https://" + csdsURL
	}
	base, err := url.Parse(csdsURL)
	if err != nil {
		return Endpoints{}, fmt.Errorf("discover: domain API URL %q: %w", csdsURL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return Endpoints{}, fmt.Errorf("discover: domain API URL %q: scheme must be http or https", csdsURL)
	}
	ep := Endpoints{
		Scheme:            base.Scheme,
		Account:           account,
		AsyncMessagingEnt: hostOnly(ov.AsyncMessagingEnt),
		IDP:               hostOnly(ov.IDP),
		AgentVep:          hostOnly(ov.AgentVep),
	}
	if ep.AsyncMessagingEnt != "" && ep.IDP != "" && ep.AgentVep != "" {
		return ep, nil
	}

	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + protocol.Path(protocol.PathDomain, url.PathEscape(account))
	u.RawQuery = url.Values{"version": {protocol.DomainVersion}}.Encode()
	var uris protocol.BaseURIs
	if err := doJSON(ctx, hc, "discover", http.MethodGet, u.String(), nil, &uris); err != nil {
		return Endpoints{}, err
	}
	fill := func(dst *string, service string) {
		if *dst == "" {
			h, _ := uris.Lookup(service)
			*dst = hostOnly(h)
		}
	}
	fill(&ep.AsyncMessagingEnt, protocol.ServiceAsyncMessagingEnt)
	fill(&ep.IDP, protocol.ServiceIDP)
	fill(&ep.AgentVep, protocol.ServiceAgentVep)
	fill(&ep.Swift, protocol.ServiceSwift)
	if ep.AsyncMessagingEnt == "" {
		return Endpoints{}, fmt.Errorf("discover %s: %w: %s, for account %s", u.String(), ErrNoMessaging, protocol.ServiceAsyncMessagingEnt, account)
	}
	return ep, nil
}

// hostOnly accepts a host[:port], or a URL from which it keeps the host, so
// that an override written as "https://va.msg.liveperson.net" still works.
func hostOnly(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return u.Host
		}
	}
	return strings.TrimSuffix(s, "/")
}

// wsScheme is the socket scheme matching the HTTP scheme.
func (ep Endpoints) wsScheme() string {
	if ep.Scheme == "http" {
		return "ws"
	}
	return "wss"
}

func (ep Endpoints) httpURL(host, path string, q url.Values) string {
	u := url.URL{Scheme: ep.Scheme, Host: host, Path: path}
	if ep.Scheme == "" {
		u.Scheme = "https"
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// ConsumerURL is the consumer socket's URL (docs/protocol.md, Consumer socket).
func (ep Endpoints) ConsumerURL() string {
	u := url.URL{
		Scheme:   ep.wsScheme(),
		Host:     ep.AsyncMessagingEnt,
		Path:     protocol.Path(protocol.PathConsumerSocket, ep.Account),
		RawQuery: url.Values{"v": {protocol.ConsumerVersion}}.Encode(),
	}
	return u.String()
}

// AgentURL is the agent socket's URL for a bearer (docs/protocol.md, Agent
// socket).
func (ep Endpoints) AgentURL(bearer string) string {
	path := protocol.Path(protocol.PathAgentSocket, ep.Account, bearer)
	u := url.URL{
		Scheme:   ep.wsScheme(),
		Host:     ep.AsyncMessagingEnt,
		Path:     path,
		RawPath:  protocol.Path(protocol.PathAgentSocket, url.PathEscape(ep.Account), url.PathEscape(bearer)),
		RawQuery: url.Values{"v": {protocol.AgentVersion}}.Encode(),
	}
	return u.String()
}

// Signup asks the IDP for an unauthenticated consumer token (a JWT whose sub
// is the consumer's id).
func Signup(ctx context.Context, hc *http.Client, ep Endpoints) (string, error) {
	if ep.IDP == "" {
		return "", errors.New("signup: no idp host")
	}
	u := ep.httpURL(ep.IDP, protocol.Path(protocol.PathSignup, ep.Account), nil)
	var resp protocol.SignupResponse
	if err := doJSON(ctx, hc, "signup", http.MethodPost, u, nil, &resp); err != nil {
		return "", err
	}
	if resp.JWT == "" {
		return "", fmt.Errorf("signup %s: answer has no jwt", u)
	}
	return resp.JWT, nil
}

// Authenticate exchanges a JWT signed by the brand's identity provider for
// an authenticated consumer token.
func Authenticate(ctx context.Context, hc *http.Client, ep Endpoints, authCode string) (string, error) {
	return AuthenticateCode(ctx, hc, ep, protocol.AuthenticateRequest{AuthCode: authCode})
}

// AuthenticateCode is Authenticate with the whole request: the code flow's
// redirect_uri too. A refused code (bad signature, expired, another
// audience) is a *StatusError with 401 whose Text is the IDP's reason.
func AuthenticateCode(ctx context.Context, hc *http.Client, ep Endpoints, req protocol.AuthenticateRequest) (string, error) {
	if ep.IDP == "" {
		return "", errors.New("authenticate: no idp host")
	}
	if req.AuthCode == "" {
		return "", errors.New("authenticate: no code")
	}
	u := ep.httpURL(ep.IDP, protocol.Path(protocol.PathAuthenticate, ep.Account), nil)
	var resp protocol.SignupResponse
	if err := doJSON(ctx, hc, "authenticate", http.MethodPost, u, req, &resp); err != nil {
		return "", err
	}
	if resp.JWT == "" {
		return "", fmt.Errorf("authenticate %s: answer has no jwt", u)
	}
	return resp.JWT, nil
}

// Login logs an agent in; a wrong password is a *StatusError with 401.
func Login(ctx context.Context, hc *http.Client, ep Endpoints, username, password string) (protocol.LoginResponse, error) {
	if ep.AgentVep == "" {
		return protocol.LoginResponse{}, errors.New("login: no agentVep host")
	}
	u := ep.httpURL(ep.AgentVep, protocol.Path(protocol.PathAgentLogin, ep.Account), url.Values{"v": {protocol.LoginVersion}})
	var resp protocol.LoginResponse
	err := doJSON(ctx, hc, "login", http.MethodPost, u, protocol.LoginRequest{Username: username, Password: password}, &resp)
	if err != nil {
		return protocol.LoginResponse{}, err
	}
	if resp.Bearer == "" || resp.Config.UserID == "" {
		return protocol.LoginResponse{}, fmt.Errorf("login %s: answer lacks bearer or config.userId", u)
	}
	return resp, nil
}

// Refresh prolongs an agent's login session (the Login Service API's
// refresh) with the csrf of its login; a session that is gone or expired
// is a *StatusError with 401.
func Refresh(ctx context.Context, hc *http.Client, ep Endpoints, csrf string) error {
	if ep.AgentVep == "" {
		return errors.New("refresh: no agentVep host")
	}
	u := ep.httpURL(ep.AgentVep, protocol.Path(protocol.PathAgentRefresh, ep.Account), url.Values{"v": {protocol.LoginVersion}})
	// The answer's body is empty or {}: nothing to decode.
	return doJSON(ctx, hc, "refresh", http.MethodPost, u, protocol.RefreshRequest{CSRF: csrf}, nil)
}

// maxHTTPBody bounds what is read from the HTTP services.
const maxHTTPBody = 1 << 20

// doJSON sends body (nil for none) as JSON and decodes a 2xx answer into out.
func doJSON(ctx context.Context, hc *http.Client, op, method, u string, body, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	var rd io.Reader
	if body != nil {
		b, err := protocol.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, u, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", op, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Op: op, URL: u, StatusCode: resp.StatusCode, Text: errorText(b), RetryAfter: retryAfter(resp.Header)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", op, u, err)
	}
	return nil
}

// errorText extracts {"error":"…"} or returns the (short) body as text.
func errorText(b []byte) string {
	var he protocol.HTTPError
	if json.Unmarshal(b, &he) == nil && he.Error != "" {
		return he.Error
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Claims are what a client may read of a consumer token without verifying
// it: the service verifies it anyway, and a client only needs the consumer's
// id (the service puts it in originatorId) and when the token runs out.
type Claims struct {
	Sub string
	// Exp is when the token expires; zero when it does not say.
	Exp time.Time
}

// ReadClaims decodes a JWT's payload without verifying the token.
func ReadClaims(jwt string) (Claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("jwt: not three parts")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("jwt payload: %w", err)
	}
	var claims struct {
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return Claims{}, fmt.Errorf("jwt claims: %w", err)
	}
	c := Claims{Sub: claims.Sub}
	if claims.Exp > 0 {
		c.Exp = time.Unix(int64(claims.Exp), 0)
	}
	return c, nil
}

// Subject returns a JWT's sub claim without verifying the token: the
// consumer's id, which the service puts in originatorId of its events.
func Subject(jwt string) (string, error) {
	c, err := ReadClaims(jwt)
	if err != nil {
		return "", err
	}
	if c.Sub == "" {
		return "", errors.New("jwt: no sub claim")
	}
	return c.Sub, nil
}

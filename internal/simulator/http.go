package simulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// routes lists the whole HTTP surface of docs/protocol.md: Discovery,
// Identity, Agent login and the two sockets' upgrades.
func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/account/{account}/service/baseURI.json", s.handleDomain)
	mux.HandleFunc("POST /api/account/{account}/signup", s.handleSignup)
	mux.HandleFunc("POST /api/account/{account}/authenticate", s.handleAuthenticate)
	mux.HandleFunc("POST /api/account/{account}/login", s.handleLogin)
	mux.HandleFunc("POST /api/account/{account}/refresh", s.handleRefresh)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/consumer", s.handleConsumerSocket)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/brand/{bearer}", s.handleAgentSocket)
	return mux
}

// maxHTTPBody bounds the JSON bodies of the HTTP services.
const maxHTTPBody = 64 << 10

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := protocol.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, text string) {
	writeJSON(w, code, protocol.HTTPError{Error: text})
}

// knownAccount answers 401 for any account but the service's.
func (s *Service) knownAccount(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("account") != s.cfg.Account {
		writeError(w, http.StatusUnauthorized, "unknown account")
		return false
	}
	return true
}

func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// handleDomain is the domain API (CSDS). Every service is advertised at the
// request's own host, so the same handler works behind httptest, a real
// port and TLS.
func (s *Service) handleDomain(w http.ResponseWriter, r *http.Request) {
	// Errors still carry an empty baseURIs: the agent SDK reads the body
	// whatever the status and crashes without the field.
	type domainError struct {
		Error    string             `json:"error"`
		BaseURIs []protocol.BaseURI `json:"baseURIs"`
	}
	if !r.URL.Query().Has("version") {
		writeJSON(w, http.StatusBadRequest, domainError{Error: "missing version", BaseURIs: []protocol.BaseURI{}})
		return
	}
	if r.PathValue("account") != s.cfg.Account {
		writeJSON(w, http.StatusUnauthorized, domainError{Error: "unknown account", BaseURIs: []protocol.BaseURI{}})
		return
	}
	var out protocol.BaseURIs
	for _, svc := range []string{protocol.ServiceAsyncMessagingEnt, protocol.ServiceIDP, protocol.ServiceAgentVep} {
		out.BaseURIs = append(out.BaseURIs, protocol.BaseURI{Service: svc, Account: protocol.ID(s.cfg.Account), BaseURI: r.Host})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSignup creates an unauthenticated consumer and its token.
func (s *Service) handleSignup(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	id := s.cfg.NewID()
	token, err := s.tokens.issue(id, s.cfg.Now().Add(s.cfg.TokenTTL))
	if err != nil {
		s.log.Error("signup", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token")
		return
	}
	s.mu.Lock()
	s.consumers[id] = &consumerRec{id: id}
	s.mu.Unlock()
	s.log.Info("consumer signed up", "consumer_id", id)
	writeJSON(w, http.StatusOK, protocol.SignupResponse{JWT: token})
}

// handleAuthenticate exchanges a brand's identity token for a consumer token
// whose sub derives from the brand's sub and whose exp is the brand's.
func (s *Service) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var req protocol.AuthenticateRequest
	if err := decodeJSON(r, &req); err != nil || req.AuthCode == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"authCode\":\"<jwt>\"}")
		return
	}
	sub, exp, err := s.tokens.brandClaims(req.AuthCode)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "bad authCode: "+err.Error())
		return
	}
	token, err := s.tokens.issue(sub, exp)
	if err != nil {
		s.log.Error("authenticate", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token")
		return
	}
	s.mu.Lock()
	s.consumers[sub] = &consumerRec{id: sub}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, protocol.SignupResponse{JWT: token})
}

// handleConsumerSocket opens a consumer socket, authenticated by the
// Authorization header or, without it, by an InitConnection within
// InitTimeout.
func (s *Service) handleConsumerSocket(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var (
		consumerID string
		exp        int64
	)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "jwt") && !strings.EqualFold(scheme, "bearer") {
			writeError(w, http.StatusUnauthorized, "Authorization must be \"jwt <token>\"")
			return
		}
		cl, err := s.tokens.verify(strings.TrimSpace(token))
		if err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		consumerID, exp = cl.Sub, cl.Exp
	}
	props, err := parseClientProperties(r.Header.Get("Client-Properties"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var initDeadline time.Duration
	if consumerID == "" {
		initDeadline = s.cfg.InitTimeout
	}
	s.serveSocket(w, r, consumerSocket, initDeadline, func(c *socket) {
		c.clientProps = props
		if consumerID != "" {
			c.consumerID, c.tokenExp = consumerID, exp
			c.authed.Store(true)
			s.ensureConsumer(consumerID)
		}
	}, s.handleConsumer)
}

// handleAgentSocket opens an agent socket for the live session of the
// bearer; an unknown or expired one gets 401.
func (s *Service) handleAgentSocket(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	s.mu.Lock()
	sess := s.liveSession(s.sessions[r.PathValue("bearer")])
	s.mu.Unlock()
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "unknown or expired bearer")
		return
	}
	s.serveSocket(w, r, agentSocket, 0, func(c *socket) {
		c.agent = sess.agent
		c.session = sess
		c.authed.Store(true)
		sess.agent.sockets[c] = struct{}{}
	}, s.handleAgent)
}

func (s *Service) ensureConsumer(id string) {
	if s.consumers[id] == nil {
		s.consumers[id] = &consumerRec{id: id}
	}
}

// serveSocket upgrades the request and runs the socket until it closes.
// setup runs under the service lock once the socket is registered.
func (s *Service) serveSocket(w http.ResponseWriter, r *http.Request, kind socketKind, initDeadline time.Duration,
	setup func(*socket), handle func(*socket, protocol.Frame)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "service closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var c *socket
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The service is a development and test tool reached from anywhere
		// on the machine; it checks tokens, not origins.
		InsecureSkipVerify: true,
		// Pings count as activity for the idle timeout. They are handled
		// inside Read, so c is set by then.
		OnPingReceived: func(context.Context, []byte) bool {
			c.touch()
			if kind == agentSocket {
				// A socket that only listens still ends with its session.
				s.mu.Lock()
				if s.sessionExpired(c) {
					c.closeAfterQueued(statusTokenInvalid, "session expired")
				}
				s.mu.Unlock()
			}
			return true
		},
	})
	if err != nil {
		s.log.Debug("websocket accept", "err", err)
		return
	}
	log := s.log.With("socket", kindName(kind), "remote", r.RemoteAddr)
	c = newSocket(s, conn, kind, log)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close(statusGoingAway, "service closing")
		return
	}
	s.sockets[c] = struct{}{}
	setup(c)
	s.mu.Unlock()
	log.Debug("socket open")

	c.serve(func(f protocol.Frame) { handle(c, f) }, initDeadline)

	s.mu.Lock()
	s.dropSocket(c)
	s.mu.Unlock()
	log.Debug("socket closed")
}

// dropSocket forgets a closed socket and everything it subscribed to.
func (s *Service) dropSocket(c *socket) {
	delete(s.sockets, c)
	for d := range c.dialogSubs {
		delete(d.subs, c)
	}
	for sub := range c.subs {
		s.removeConvSub(sub)
	}
	if c.agent != nil {
		delete(c.agent.sockets, c)
	}
}

func kindName(k socketKind) string {
	if k == agentSocket {
		return "agent"
	}
	return "consumer"
}

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
	"github.com/chatwindow/chatwindow/internal/wsconn"
)

// routes lists the whole HTTP surface of docs/protocol.md: Discovery,
// Identity, Agent login and the two sockets' upgrades.
func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/account/{account}/service/baseURI.json", s.handleDomain)
	mux.HandleFunc("POST /api/account/{account}/signup", s.handleSignup)
	mux.HandleFunc("POST /api/account/{account}/authenticate", s.handleAuthenticate)
	mux.HandleFunc("POST /api/account/{account}/anonymous/authorize", s.handleAnonymousAuthorize)
	mux.HandleFunc("POST /api/account/{account}/app/{connector}/authenticate", s.handleConnectorAuthenticate)
	mux.HandleFunc("POST /api/account/{account}/login", s.handleLogin)
	mux.HandleFunc("POST /api/account/{account}/refresh", s.handleRefresh)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/consumer", s.handleConsumerSocket)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/brand/{bearer}", s.handleAgentSocket)
	mux.HandleFunc("PUT "+storageContainer+"{account}/{name}", s.handleFilePut)
	mux.HandleFunc("GET "+storageContainer+"{account}/{name}", s.handleFileGet)
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

// domainServices are the services the domain API lists: the consumer
// socket's, the IDP's, the agent login's, facadeMsg, where node-agent-sdk
// 1.4 dials the agent socket (1.2 dials asyncMessagingEnt), and swift, the
// file storage (storage.go).
var domainServices = []string{protocol.ServiceAsyncMessagingEnt, protocol.ServiceFacadeMsg, protocol.ServiceIDP, protocol.ServiceAgentVep, protocol.ServiceSwift}

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
	for _, svc := range domainServices {
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
	token, err := s.tokens.issue(tokenIssuerName, id, s.cfg.Now().Add(s.cfg.TokenTTL), nil)
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

// handleConsumerSocket opens a consumer socket, authenticated by the
// Authorization header or, without it, by an InitConnection within
// InitTimeout.
func (s *Service) handleConsumerSocket(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var cl claims
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "jwt") && !strings.EqualFold(scheme, "bearer") {
			writeError(w, http.StatusUnauthorized, "Authorization must be \"jwt <token>\"")
			return
		}
		var err error
		if cl, err = s.tokens.verify(strings.TrimSpace(token)); err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	props, err := parseClientProperties(r.Header.Get("Client-Properties"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var initDeadline time.Duration
	if cl.Sub == "" {
		initDeadline = s.cfg.InitTimeout
	}
	s.serveSocket(w, r, consumerSocket, initDeadline, func(c *socket) {
		c.clientProps = props
		if cl.Sub != "" {
			c.consumerID = cl.Sub
			c.life.Store(lifeOf(cl))
			c.authed.Store(true)
			s.ensureConsumer(cl.Sub)
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

// ensureConsumer returns the consumer's record, made when missing.
func (s *Service) ensureConsumer(id string) *consumerRec {
	if s.consumers[id] == nil {
		s.consumers[id] = &consumerRec{id: id}
	}
	return s.consumers[id]
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
	// net/http's buffers, over a batch: a drain of the socket's queue is
	// one write syscall (socket.drain).
	batch := wsconn.NewBatch(nil)
	conn, err := websocket.Accept(wsconn.Response{ResponseWriter: w, Batch: batch}, r, &websocket.AcceptOptions{
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
	c = newSocket(s, conn, batch, kind, log)

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

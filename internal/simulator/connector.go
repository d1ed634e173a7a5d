package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The unauthenticated connector (docs/simulator.md, HTTP: anonymous
// authorize, connector authenticate), after Unauthenticated Messaging: the
// IDP issues an anonymous identity as an external id_token, refreshes it,
// and exchanges it at the connector for the socket's token.

// errRefreshOver refuses an id_token whose refresh period has passed.
var errRefreshOver = errors.New("token expired and past its refresh period: start a new identity")

// handleAnonymousAuthorize answers anonymous/authorize: without a body
// (or without id_token) a new identity, with {"id_token":old} the same
// identity again, while old is no longer than ExtTokenRefresh past its
// expiry. Either way a fresh id_token of ExtTokenTTL.
func (s *Service) handleAnonymousAuthorize(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) || !s.hasConnector(w) {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	var req protocol.IDTokenRequest
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			writeError(w, http.StatusBadRequest, "body must be empty or {\"id_token\":\"<previous id_token>\"}")
			return
		}
	}
	sub := ""
	if req.IDToken == "" {
		sub = s.cfg.NewID()
	} else {
		cl, err := s.tokens.verifyAs(idTokenIssuer, req.IDToken)
		if errors.Is(err, errTokenExpired) {
			if !s.cfg.Now().Before(time.Unix(cl.Exp, 0).Add(s.cfg.ExtTokenRefresh)) {
				err = errRefreshOver
			} else {
				err = nil
			}
		}
		if err != nil {
			writeError(w, http.StatusUnauthorized, "bad id_token: "+err.Error())
			return
		}
		sub = cl.Sub
	}
	token, err := s.tokens.issue(idTokenIssuer, sub, s.cfg.Now().Add(s.cfg.ExtTokenTTL), nil)
	if err != nil {
		s.log.Error("anonymous authorize", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token")
		return
	}
	writeJSON(w, http.StatusOK, protocol.TokenResponse{Token: token})
}

// handleConnectorAuthenticate answers app/{connector}/authenticate: a live
// id_token of the IDP becomes a consumer token (TokenTTL) of the same
// identity; an expired one is refused, to be refreshed first.
func (s *Service) handleConnectorAuthenticate(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) || !s.hasConnector(w) {
		return
	}
	if id := r.PathValue("connector"); id != s.cfg.ConnectorID {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown connector %q", id))
		return
	}
	if !r.URL.Query().Has("v") {
		writeError(w, http.StatusBadRequest, "missing v (Unauthenticated Messaging: v="+protocol.ConnectorVersion+")")
		return
	}
	var req protocol.IDTokenRequest
	if err := decodeJSON(r, &req); err != nil || req.IDToken == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"id_token\":\"<jwt>\"}")
		return
	}
	cl, err := s.tokens.verifyAs(idTokenIssuer, req.IDToken)
	if errors.Is(err, errTokenExpired) {
		err = fmt.Errorf("%w: refresh it at anonymous/authorize", err)
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, "bad id_token: "+err.Error())
		return
	}
	token, err := s.tokens.issue(tokenIssuerName, cl.Sub, s.cfg.Now().Add(s.cfg.TokenTTL), nil)
	if err != nil {
		s.log.Error("connector authenticate", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token")
		return
	}
	s.mu.Lock()
	s.ensureConsumer(cl.Sub)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, protocol.TokenResponse{Token: token})
}

// hasConnector answers 404 when the service runs without an
// unauthenticated connector (Config.ConnectorID).
func (s *Service) hasConnector(w http.ResponseWriter) bool {
	if s.cfg.ConnectorID == "" {
		writeError(w, http.StatusNotFound, "no unauthenticated connector on this account (chatwindow simulate -connector ID)")
		return false
	}
	return true
}

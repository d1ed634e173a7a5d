package window

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// An authenticated customer is signed in by the brand (docs/protocol.md,
// Identity): chat.js calls the embedding page's function (Config.AuthMethod)
// when the customer starts, and again when the session asks (LivePerson
// refused the token: 4401), and posts its answer here, to the window's own
// origin. The window exchanges it at the IDP's authenticate and keeps only
// LivePerson's token, in the cookie; the brand's JWT or code is neither
// kept nor logged.

// signInRequest is what the page posts: the brand's JWT or OAuth code,
// and the code flow's redirect_uri when the page's function gave one.
type signInRequest struct {
	Code        string `json:"code"`
	RedirectURI string `json:"redirect_uri"`
}

// Bounds of a sign-in request: a brand's JWT with its customer details
// stays well under 16 KiB.
const (
	maxSignInBody = 16 << 10
	maxCode       = 12 << 10
	maxRedirect   = 2 << 10
)

// handleSignIn signs the customer in with the brand's answer (POST /session
// with a JSON body, in the authenticated mode): a new session, or a fresh
// token for the session's customer, handed to the session that waits for
// it. 204: signed in; 202: signed in, but the session waiting for it runs
// on another node (the page reconnects its socket, and that node takes the
// token from the new cookie). A refused answer sets nothing.
func (s *Server) handleSignIn(c echo.Context) error {
	req, err := readSignIn(c.Request())
	if err != nil {
		return err
	}
	if !s.signupAllowed(clientaddr.Key(c.RealIP())) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "Too many sign-ins from your network. Please wait a minute.")
	}
	tok, err := s.cfg.Authenticate(c.Request().Context(), protocol.AuthenticateRequest{AuthCode: req.Code, RedirectURI: req.RedirectURI})
	if err != nil {
		return signInRefused(err)
	}
	id, had := s.Identity(c.Request())
	if !had {
		id = relay.Identity{SessionID: newSessionID()}
	}
	id.Token, id.IDToken = tok, ""
	if err := s.saveIdentity(c, id); err != nil {
		return err
	}
	if had && !s.relay.SignIn(id.SessionID, tok) {
		return c.NoContent(http.StatusAccepted)
	}
	s.log.Info("customer signed in", "session_id", shortID(id.SessionID), "renewal", had)
	return c.NoContent(http.StatusNoContent)
}

// readSignIn reads and checks the page's sign-in: JSON only (a form of
// another site cannot send it without the browser asking this origin
// first), with a code of a sane size.
func readSignIn(r *http.Request) (signInRequest, error) {
	var req signInRequest
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return req, echo.NewHTTPError(http.StatusUnsupportedMediaType, "The sign-in must be sent as JSON.")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSignInBody+1))
	if err != nil {
		return req, echo.NewHTTPError(http.StatusBadRequest, "The sign-in could not be read.").SetInternal(err)
	}
	if len(b) > maxSignInBody || json.Unmarshal(b, &req) != nil {
		return req, echo.NewHTTPError(http.StatusBadRequest, "The sign-in could not be read.")
	}
	req.Code, req.RedirectURI = strings.TrimSpace(req.Code), strings.TrimSpace(req.RedirectURI)
	switch {
	case req.Code == "":
		return req, echo.NewHTTPError(http.StatusBadRequest, "The site gave no sign-in.")
	case len(req.Code) > maxCode || len(req.RedirectURI) > maxRedirect:
		return req, echo.NewHTTPError(http.StatusBadRequest, "The sign-in is too long.")
	}
	return req, nil
}

// signInRefused answers a failed exchange: the IDP refused the brand's
// answer (its reason, which names no secret, goes to the log), or could not
// be reached.
func signInRefused(err error) error {
	var se *messaging.StatusError
	if !errors.As(err, &se) || se.StatusCode >= 500 || se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusRequestTimeout {
		return unreachable(err)
	}
	msg := "We could not sign you in: the chat service did not accept your sign-in. Please sign in on the site again."
	if strings.Contains(se.Text, "expired") {
		msg = "We could not sign you in: your sign-in has expired. Please sign in on the site again."
	}
	return echo.NewHTTPError(http.StatusUnauthorized, msg).SetInternal(err)
}

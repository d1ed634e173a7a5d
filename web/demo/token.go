package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/jws"
	"github.com/chatwindow/chatwindow/web"
)

// The demo customer's sign-in: the page posts the name its customer signed
// in with, and gets a brand JWT for them, as a brand's identity provider
// would give one (LivePerson's Authentication Detailed API: RS256, with
// iss, sub, iat and exp; aud names the account). It is a demo: anyone who
// reaches the demo site may be anyone, which is why only the embedded
// service, on loopback, trusts its key.

// Bounds of a token request.
const (
	maxTokenBody = 1 << 10
	maxName      = 60
)

// tokenRequest is what the page posts.
type tokenRequest struct {
	Name string `json:"name"`
}

// handleToken answers a page of the demo site's own with a brand JWT for
// the named demo customer.
func (s *Site) handleToken(c echo.Context) error {
	r := c.Request()
	if err := web.SameOrigin(r, s.cfg.Secure); err != nil {
		return web.RefuseCrossOrigin(err)
	}
	if s.cfg.Key == nil {
		return echo.NewHTTPError(http.StatusNotFound, "This demo site signs nobody in: the chat service trusts another key.")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the name as JSON.")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxTokenBody+1))
	var req tokenRequest
	if err != nil || len(b) > maxTokenBody || json.Unmarshal(b, &req) != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in could not be read.")
	}
	name := strings.TrimSpace(req.Name)
	if problem := nameProblem(name); problem != "" {
		return echo.NewHTTPError(http.StatusBadRequest, problem)
	}
	now := s.cfg.Now()
	tok, err := jws.SignRS256(s.cfg.Key, map[string]any{
		"sub": "demo:" + strings.ToLower(name), "name": name,
		"iss": s.cfg.Issuer, "aud": "acc:" + s.cfg.Account,
		"iat": now.Unix(), "exp": now.Add(s.cfg.TokenTTL).Unix(),
	})
	if err != nil {
		return err
	}
	s.log.Info("demo customer signed in", "sub", "demo:"+strings.ToLower(name))
	return c.JSON(http.StatusOK, map[string]string{"token": tok})
}

// nameProblem says what is wrong with a demo customer's name, for the
// page ("": nothing).
func nameProblem(name string) string {
	switch {
	case name == "":
		return "Give a name to sign in with."
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxName:
		return fmt.Sprintf("A name has at most %d characters.", maxName)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "A name is one line of text."
		}
	}
	return ""
}

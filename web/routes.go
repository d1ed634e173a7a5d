package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes is the whole URL surface on one screen.
func (s *Server) routes() {
	e := s.echo
	getOrHead(e, "/", s.handleChat)
	e.POST(startPath, s.handleStart)
	e.POST(forgetPath, s.handleForget)
	e.GET("/ws", s.handleSocket)
	getOrHead(e, "/static/:name", s.handleStatic)
	getOrHead(e, "/static/vendor/:name", s.handleStatic)
	e.GET(imagePath, s.handleImage)
	getOrHead(e, "/healthz", s.handleHealth)
	getOrHead(e, "/readyz", s.handleReady)
	// The QA view is a tool for the embedded service (Config.QA); the
	// metrics are on the operators' own listener, never here.
	if s.cfg.QA {
		getOrHead(e, "/qa", s.handleQA)
		e.GET("/qa/ws", s.handleQASocket)
	}
}

// The window's own paths that the page posts to.
const (
	// startPath gives a visitor an identity (their first message).
	startPath = "/session"
	// forgetPath ends the conversation and forgets the customer.
	forgetPath = "/forget"
)

// getOrHead routes GET and HEAD (health checks and link checkers use HEAD) to
// h; net/http sends no body for HEAD.
func getOrHead(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h)
}

// routes is the agent console's URL surface, all under ConsolePrefix.
func (c *Console) routes() {
	e := c.echo
	getOrHead(e, ConsolePrefix, c.handleRoot)
	getOrHead(e, ConsolePrefix+"/", c.handleConsole)
	e.POST(ConsolePrefix+"/sign-in", c.handleSignIn)
	e.POST(ConsolePrefix+"/sign-out", c.handleSignOut)
	e.GET(ConsolePrefix+"/ws", c.handleSocket)
	getOrHead(e, ConsolePrefix+"/static/:name", c.handleStatic)
	getOrHead(e, ConsolePrefix+"/static/vendor/:name", c.handleStatic)
}

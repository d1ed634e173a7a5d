package window

import (
	"github.com/chatwindow/chatwindow/web"
	"github.com/chatwindow/chatwindow/web/qa"
)

// routes is the whole URL surface on one screen.
func (s *Server) routes() {
	e := s.echo
	web.GetOrHead(e, "/", s.handleChat)
	e.POST(startPath, s.handleStart)
	e.POST(forgetPath, s.handleForget)
	e.POST(uploadPath, s.handleUpload)
	e.GET("/ws", s.handleSocket)
	web.GetOrHead(e, "/static/:name", s.handleStatic)
	web.GetOrHead(e, "/static/vendor/:name", s.handleStatic)
	// The window on a brand's site (embed.go).
	web.GetOrHead(e, embedPath, s.handleEmbed)
	web.GetOrHead(e, brandPath+":name", s.handleBrand)
	e.GET(imagePath, s.handleImage)
	e.GET(filePath, s.handleFile)
	e.GET(transcriptPath, s.handleTranscript)
	web.GetOrHead(e, "/healthz", s.handleHealth)
	web.GetOrHead(e, "/readyz", s.handleReady)
	// The QA view is a tool for the embedded service (Config.QA); the
	// metrics are on the operators' own listener, never here.
	if s.cfg.QA {
		qa.New(s.log, qa.Config{ConsoleURL: s.cfg.ConsoleURL}, s.assets, s.relay, s, s.sockets).Routes(e)
	}
}

// The window's own paths that the page posts to.
const (
	// startPath gives a visitor an identity (their first message).
	startPath = "/session"
	// forgetPath ends the conversation and forgets the customer.
	forgetPath = "/forget"
)

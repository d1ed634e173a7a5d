package web

// routes is the whole URL surface on one screen.
func (s *Server) routes() {
	e := s.echo
	e.GET("/", s.handleChat)
	e.GET("/ws", s.handleSocket)
	e.GET("/static/:name", s.handleStatic)
	e.GET("/static/vendor/:name", s.handleStatic)
	e.GET("/healthz", s.handleHealth)
}

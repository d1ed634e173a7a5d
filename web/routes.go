package web

// routes is the whole URL surface on one screen.
func (s *Server) routes() {
	e := s.echo
	e.GET("/", s.handleChat)
	e.GET("/ws", s.handleSocket)
	e.GET("/static/:name", s.handleStatic)
	e.GET("/static/vendor/:name", s.handleStatic)
	e.GET(imagePath, s.handleImage)
	e.GET("/healthz", s.handleHealth)
	e.GET("/readyz", s.handleReady)
	e.GET("/metrics", s.handleMetrics)
	e.GET("/qa", s.handleQA)
	e.GET("/qa/ws", s.handleQASocket)
}

// routes is the agent console's URL surface, all under ConsolePrefix.
func (c *Console) routes() {
	e := c.echo
	e.GET(ConsolePrefix, c.handleRoot)
	e.GET(ConsolePrefix+"/", c.handleConsole)
	e.POST(ConsolePrefix+"/sign-in", c.handleSignIn)
	e.POST(ConsolePrefix+"/sign-out", c.handleSignOut)
	e.GET(ConsolePrefix+"/ws", c.handleSocket)
	e.GET(ConsolePrefix+"/static/:name", c.handleStatic)
	e.GET(ConsolePrefix+"/static/vendor/:name", c.handleStatic)
}

package window

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// handleChat is the chat window. A visitor without an identity gets the
// window without a socket: nothing is created at the messaging service
// until they write (handleStart), so crawlers, health checks and people who
// only look cost nothing there.
func (s *Server) handleChat(c echo.Context) error {
	// The views' own state of a page with no socket yet.
	win := views.Window{Connection: views.Connection{State: "idle"}, Phase: string(relay.PhaseNew), Anonymous: true}
	if id, ok := s.Identity(c.Request()); ok {
		if now, ok := s.relay.Identity(id.SessionID); ok && (now.Token != id.Token || now.IDToken != id.IDToken) {
			// The session's identity was renewed: keep it.
			if err := s.saveIdentity(c, now); err != nil {
				return err
			}
		}
		win = views.Window{Connection: views.Connection{State: messaging.StateConnecting.String()}, Phase: string(relay.PhaseNew), ForgetURL: forgetPath,
			Attach: attachProps(s.cfg.MaxUpload)}
		if v, ok := s.relay.View(id.SessionID); ok {
			win = windowProps(v, s.images.cardImages, attachProps(s.cfg.MaxUpload), s.cfg.Hours)
		}
	}
	if win.Phase == string(relay.PhaseNew) && win.Agent == (views.Agent{}) {
		// Before any conversation: when agents answer.
		win.Agent = agentProps(relay.View{Phase: relay.PhaseNew}, s.cfg.Hours, time.Now())
	}
	page := views.Page{
		Assets: views.Assets{
			CSS:    web.AssetURL(s.assets, "", "chat.css"),
			HTMX:   web.AssetURL(s.assets, "", static.HTMX),
			HTMXWS: web.AssetURL(s.assets, "", static.HTMXWS),
			ChatJS: web.AssetURL(s.assets, "", "chat.js"),
		},
		SocketURL:  socketURL(c.Request()),
		StartURL:   startPath,
		AuthMethod: s.cfg.AuthMethod,
		Window:     win,
		Brand:      views.Brand{Title: s.cfg.Brand.Title, Greeting: s.cfg.Brand.Greeting, LogoURL: s.brand.logoURL()},
	}
	page.Assets.BrandCSS = s.brand.cssURL()
	ui := pageUI(c.Request())
	page.Lang, page.Dir = ui.Tag, ui.Dir()
	c.SetRequest(c.Request().WithContext(views.WithTranslator(c.Request().Context(), ui)))
	if s.cfg.AuthMethod != "" {
		page.Assets.SignInJS = web.AssetURL(s.assets, "", "signin.js")
	}
	if s.cfg.MaxUpload > 0 {
		page.Assets.UploadJS = web.AssetURL(s.assets, "", "upload.js")
	}
	if framed(c.Request()) {
		// Framed by a brand's page (embed.go): its bridge, which answers
		// the origins that may frame the window, and a start that sets
		// the framed cookie.
		page.Assets.FrameJS = web.AssetURL(s.assets, "", "frame.js")
		page.FrameOrigins = s.cfg.FrameAncestors
		page.StartURL = startPath + framedQuery
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return web.Render(c, http.StatusOK, views.ChatPage(page))
}

// handleStatic serves embedded assets by their content-hashed names, so
// they can be cached for good.
func (s *Server) handleStatic(c echo.Context) error {
	return web.ServeAsset(c, s.assets, "/static/")
}

// handleHealth says the process serves (liveness).
func (s *Server) handleHealth(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// handleReady says whether to send customers here (readiness): not while
// shutting down.
func (s *Server) handleReady(c echo.Context) error {
	if err := s.relay.Ready(); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down").SetInternal(err)
	}
	return c.String(http.StatusOK, "ready")
}

// handleStart gives the page an identity when the visitor first needs one
// (their first message): the messaging service's signup or the
// connector's identity, kept in the session cookie; for authenticated
// customers, the page's sign-in (handleSignIn). A page that already has
// one gets 204 as well (another tab started first). Another site's page
// may not (403), and one client address gets a few a minute (429).
func (s *Server) handleStart(c echo.Context) error {
	if err := web.SameOrigin(c.Request(), s.cfg.Secure); err != nil {
		return web.RefuseCrossOrigin(err)
	}
	if s.cfg.AuthMethod != "" {
		return s.handleSignIn(c)
	}
	if _, ok := s.Identity(c.Request()); ok {
		return c.NoContent(http.StatusNoContent)
	}
	if !s.signupAllowed(clientaddr.Key(c.RealIP())) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "Too many new conversations from your network. Please wait a minute.")
	}
	if _, err := s.newIdentity(c); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleForget is the customer's "end the conversation and forget me": the
// session closes its open conversation and lets its tabs go, and the cookie
// is expired; the answer is a fresh window.
func (s *Server) handleForget(c echo.Context) error {
	if err := web.SameOrigin(c.Request(), s.cfg.Secure); err != nil {
		return web.RefuseCrossOrigin(err)
	}
	if id, ok := s.Identity(c.Request()); ok {
		ctx, cancel := context.WithTimeout(c.Request().Context(), forgetTimeout)
		err := s.relay.Forget(ctx, id)
		cancel()
		if err != nil {
			// The cookie goes anyway: the customer asked to be forgotten.
			s.log.Warn("forget: the conversation may still be open", "error", err)
		}
		s.log.Info("customer forgotten", "session_id", shortID(id.SessionID))
	}
	s.clearIdentity(c)
	if framedPage(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/"+framedQuery)
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// forgetTimeout bounds how long handleForget waits for the conversation to
// be closed.
const forgetTimeout = 10 * time.Second

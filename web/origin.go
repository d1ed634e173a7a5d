package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// ErrCrossOrigin is a socket opened by a page of another origin.
var ErrCrossOrigin = errors.New("cross-origin socket")

// SameOrigin refuses a page socket opened from another origin, before the
// upgrade. websocket.Accept checks the Origin's host only; the scheme
// counts too (an https page is another origin than this http site, and an
// http page another origin than this https one), and `null` (sandboxed
// frames, file: pages) is never this site. secure says the site is served
// over HTTPS, possibly behind a proxy that terminates TLS. A request
// without Origin is not a browser's and is left to Accept.
func SameOrigin(r *http.Request, secure bool) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: origin %q", ErrCrossOrigin, origin)
	}
	scheme := "http"
	if secure || r.TLS != nil {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("%w: origin %q for %s://%s", ErrCrossOrigin, origin, scheme, r.Host)
	}
	return nil
}

// RefuseCrossOrigin answers 403 to a cross-origin socket (the error handler
// logs it).
func RefuseCrossOrigin(err error) error {
	return echo.NewHTTPError(http.StatusForbidden, "This page may not connect here.").SetInternal(err)
}

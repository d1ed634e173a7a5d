package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/static"
)

// ServeAsset answers with the embedded asset named by the request's path
// after prefix.
func ServeAsset(c echo.Context, assets *static.Assets, prefix string) error {
	name := strings.TrimPrefix(c.Request().URL.Path, prefix)
	a, ok := assets.Lookup(name)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	return SendAsset(c, a, Immutable)
}

// Immutable is the Cache-Control of a content-hashed URL: kept for good.
const Immutable = "public, max-age=31536000, immutable"

// SendAsset answers with a, gzipped to a browser that takes it, cached as
// cacheControl says.
func SendAsset(c echo.Context, a *static.Asset, cacheControl string) error {
	h := c.Response().Header()
	h.Set("Cache-Control", cacheControl)
	if a.Gzipped != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			return c.Blob(http.StatusOK, a.ContentType, a.Gzipped)
		}
	}
	return c.Blob(http.StatusOK, a.ContentType, a.Body)
}

// AssetURL is the path an asset is served at, under the surface's prefix
// ("" for the window, the console's own prefix for the console).
func AssetURL(assets *static.Assets, prefix, name string) string {
	return prefix + "/static/" + assets.Hashed(name)
}

// GetOrHead routes GET and HEAD (health checks and link checkers use HEAD) to
// h; net/http sends no body for HEAD.
func GetOrHead(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h)
}

// acceptsGzip reads an Accept-Encoding header: gzip listed without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

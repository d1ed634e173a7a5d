package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web"
)

// The window on a brand's site (docs/embedding.md). The brand's page loads
// embed.js from its stable URL (embedPath); it frames the window at
// "/?embed=1". A framed window loads frame.js, which talks to embed.js,
// and its cookie is partitioned (web.SessionCookie.Framed). Every window,
// framed or not, wears the brand's settings: its stylesheet and logo are
// served under brandPath.

const (
	// embedPath is embed.js's stable URL, the one the brand's script tag
	// names.
	embedPath = "/embed.js"
	// embedParam marks the URLs of a framed window: its page, the start
	// and sign-in it posts (handleStart), and its forget (frame.js adds it
	// to the form). Their cookie is then set framed.
	embedParam = "embed"
	// brandPath serves the brand's stylesheet and logo by hashed names.
	brandPath = "/brand/"
	// embedCache is embed.js's Cache-Control: its URL stays the same when
	// the window's settings or code change, so brands' pages pick a new
	// one up within minutes.
	embedCache = "public, max-age=300"
	// configMark is where embed.js takes the window's settings.
	configMark = "/*CONFIG*/{}"
)

// framedQuery is the query of a framed window's URLs.
const framedQuery = "?" + embedParam + "=1"

// framed reports whether a request comes from a window framed by a brand's
// page (a URL with framedQuery). It decides the cookie's attributes and
// whether the page loads frame.js, which a visitor may ask for as they
// like.
func framed(r *http.Request) bool { return r.URL.Query().Get(embedParam) == "1" }

// framedPage reports whether a form was posted by a framed window's page
// (its URL is framed, or the page's is: the Referer, which the window's
// pages send to their own origin), so that the page that answers is
// framed too ("forget me" is a plain form of the window's).
func framedPage(r *http.Request) bool {
	if framed(r) {
		return true
	}
	ref, err := url.Parse(r.Referer())
	return err == nil && ref.Host == r.Host && ref.Path == "/" && ref.Query().Get(embedParam) == "1"
}

// embedSettings are what embed.js learns of the window: how the launcher
// looks and which function of the page signs customers in.
type embedSettings struct {
	Title string `json:"title"`
	// CSS is the launcher's and panel's stylesheet, with the brand's
	// colours and corner: a path on the window's origin.
	CSS  string `json:"css"`
	Auth string `json:"auth,omitempty"`
}

// brandFiles are the files made from the brand's settings at start-up.
type brandFiles struct {
	// embed is embed.js with the settings in it.
	embed *static.Asset
	// css is the window's stylesheet of the brand's settings, embedCSS
	// the launcher's and panel's, logo the brand's logo (nil: none),
	// served under brandPath by their hashed names (byName).
	css, embedCSS, logo *static.Asset
	byName              map[string]*static.Asset
}

// newBrandFiles makes the brand's files: b must have been checked.
func newBrandFiles(b Brand, authMethod string, assets *static.Assets) (brandFiles, error) {
	f := brandFiles{byName: map[string]*static.Asset{}}
	var err error
	if f.embedCSS, err = brandCSS("embed.css", embedVars(b), assets); err != nil {
		return f, err
	}
	if f.css, err = brandCSS("brand.css", windowVars(b), assets); err != nil {
		return f, err
	}
	settings, err := json.Marshal(embedSettings{Title: b.Title, CSS: brandPath + f.embedCSS.Hashed, Auth: authMethod})
	if err != nil {
		return f, fmt.Errorf("embed.js settings: %w", err)
	}
	src, ok := assets.Lookup(assets.Hashed("embed.js"))
	if !ok || !bytes.Contains(src.Body, []byte(configMark)) {
		return f, errors.New("embed.js: no " + configMark + " to put the settings in")
	}
	if f.embed, err = static.Generated("embed.js", bytes.Replace(src.Body, []byte(configMark), settings, 1), src.ContentType); err != nil {
		return f, err
	}
	f.byName[f.css.Hashed] = f.css
	f.byName[f.embedCSS.Hashed] = f.embedCSS
	if len(b.Logo) > 0 {
		ext := map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/svg+xml": ".svg"}[b.LogoType]
		if f.logo, err = static.Generated("logo"+ext, b.Logo, b.LogoType); err != nil {
			return f, err
		}
		f.byName[f.logo.Hashed] = f.logo
	}
	return f, nil
}

// windowVars are the custom properties of the window's stylesheet
// (brand.css): the header's colours.
func windowVars(b Brand) string {
	if b.Color == "" {
		return ""
	}
	return fmt.Sprintf(":root { --brand-color: %s; --brand-text: %s; }\n", b.Color, b.TextColor)
}

// embedVars are the custom properties of the launcher's and panel's
// stylesheet (embed.css), set on them alone: the brand's page keeps its
// own.
func embedVars(b Brand) string {
	var v []string
	if b.Color != "" {
		v = append(v, "--cw-color: "+b.Color, "--cw-text: "+b.TextColor)
	}
	if b.Position == "left" {
		v = append(v, "--cw-left: 20px", "--cw-right: auto")
	}
	if len(v) == 0 {
		return ""
	}
	return "#chatwindow-launcher, #chatwindow-panel { " + strings.Join(v, "; ") + "; }\n"
}

// brandCSS is the static stylesheet name after vars, a rule of the
// brand's checked settings (colours as #rrggbb, a corner): nothing else of
// the settings reaches a stylesheet.
func brandCSS(name, vars string, assets *static.Assets) (*static.Asset, error) {
	base, ok := assets.Lookup(assets.Hashed(name))
	if !ok {
		return nil, errors.New(name + " is missing")
	}
	return static.Generated(name, append([]byte(vars), base.Body...), base.ContentType)
}

// cssURL and logoURL are where the page finds the brand's files ("": no
// logo).
func (f brandFiles) cssURL() string { return brandPath + f.css.Hashed }

func (f brandFiles) logoURL() string {
	if f.logo == nil {
		return ""
	}
	return brandPath + f.logo.Hashed
}

// handleEmbed is embed.js, for the brand's script tag.
func (s *Server) handleEmbed(c echo.Context) error {
	return web.SendAsset(c, s.brand.embed, embedCache)
}

// handleBrand serves the brand's stylesheet and logo.
func (s *Server) handleBrand(c echo.Context) error {
	a, ok := s.brand.byName[strings.TrimPrefix(c.Request().URL.Path, brandPath)]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	return web.SendAsset(c, a, web.Immutable)
}

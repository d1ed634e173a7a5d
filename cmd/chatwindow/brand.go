package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/chatwindow/chatwindow/web/window"
)

// brandFlags are the brand's settings' flags on fs (docs/embedding.md,
// Brand settings), read by parse.
type brandFlags struct {
	title, greeting, color, text, logo, position *string
}

func addBrandFlags(fs *flag.FlagSet, getenv func(string) string) brandFlags {
	return brandFlags{
		title:    fs.String("brand-title", getenv("CHATWINDOW_BRAND_TITLE"), "the title of the window, its launcher and panel (default \""+window.DefaultTitle+"\")"),
		greeting: fs.String("brand-greeting", getenv("CHATWINDOW_BRAND_GREETING"), "a line under the window's title (none by default)"),
		color:    fs.String("brand-color", getenv("CHATWINDOW_BRAND_COLOR"), "the background of the window's header and of the launcher, #rgb or #rrggbb (default: the window's own look)"),
		text:     fs.String("brand-text-color", getenv("CHATWINDOW_BRAND_TEXT_COLOR"), "their text colour, at least 4.5:1 against -brand-color (default: white or near-black, whichever contrasts more)"),
		logo:     fs.String("brand-logo", getenv("CHATWINDOW_BRAND_LOGO"), "a logo before the title: a PNG, JPEG, GIF, WebP or SVG file of at most 256 KiB"),
		position: fs.String("brand-position", envOr(getenv, "CHATWINDOW_BRAND_POSITION", "right"), "the launcher's corner: right or left"),
	}
}

// parse reads the logo and checks the settings.
func (f brandFlags) parse() (window.Brand, error) {
	b := window.Brand{Title: *f.title, Greeting: *f.greeting, Color: *f.color, TextColor: *f.text, Position: *f.position}
	if *f.logo != "" {
		data, err := os.ReadFile(*f.logo)
		if err != nil {
			return b, fmt.Errorf("-brand-logo: %w", err)
		}
		if b.LogoType, err = window.LogoType(*f.logo, data); err != nil {
			return b, err
		}
		b.Logo = data
	}
	if err := b.Check(); err != nil {
		return b, fmt.Errorf("brand settings: %w", err)
	}
	return b, nil
}

// cspSource is one source of a CSP source list that can name who frames
// the window: a scheme (https:), or a host with an optional scheme, a
// leading wildcard label, a port and a path.
var cspSource = regexp.MustCompile(`^(?i)(?:[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(?:[0-9]{1,5}|\*))?(?:/[^\s;,']*)?)$`)

// checkFrameAncestors checks CHATWINDOW_FRAME_ANCESTORS: a CSP source list
// ('self', 'none' alone, schemes, origins), which goes into the window's
// Content-Security-Policy as it is, so nothing else may (a ; would add a
// directive of the setting's own).
func checkFrameAncestors(v string) error {
	sources := strings.Fields(v)
	if len(sources) == 0 {
		return fmt.Errorf("-frame-ancestors %q: empty (want 'self', or the origins that may frame the window)", v)
	}
	for _, s := range sources {
		switch {
		case s == "'none'" && len(sources) > 1:
			return fmt.Errorf("-frame-ancestors %q: 'none' goes alone", v)
		case s == "'self'" || s == "'none'" || cspSource.MatchString(s):
		default:
			return fmt.Errorf("-frame-ancestors %q: %q is not a source (want 'self', 'none', a scheme such as https:, or an origin such as https://shop.example.com or https://*.example.com)", v, s)
		}
	}
	return nil
}

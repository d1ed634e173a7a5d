package window

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Brand is how the window looks on a brand's site (docs/embedding.md,
// Brand settings); the zero Brand is the window's own look. It is applied
// through a stylesheet the window serves and the page's markup, never an
// inline style (the CSP has no 'unsafe-inline').
type Brand struct {
	// Title heads the window and names the launcher and its panel
	// (default DefaultTitle).
	Title string
	// Greeting, if any, is a line under the title.
	Greeting string
	// Color is the background of the window's header and of the launcher,
	// as #rgb or #rrggbb (empty: the window's own white header and blue
	// launcher). TextColor is their text (default: white or near-black,
	// whichever contrasts more with Color); the two must contrast at
	// least 4.5:1 (WCAG 2.1 AA).
	Color, TextColor string
	// Logo is an image shown before the title: its bytes and media type
	// (LogoType reads it from a file).
	Logo     []byte
	LogoType string
	// Position is the launcher's corner: "right" (the default) or "left".
	Position string
}

// DefaultTitle heads the window when the brand names none.
const DefaultTitle = "Chat with us"

// Bounds of the brand's settings.
const (
	maxTitle    = 60
	maxGreeting = 200
	maxLogo     = 256 << 10
	// minContrast is WCAG 2.1 AA's for text (1.4.3).
	minContrast = 4.5
)

// The text colours a brand colour gets when none is given.
const (
	lightText = "#ffffff"
	darkText  = "#111418"
)

// Check says what is wrong with the brand's settings, if anything, and
// fills in the defaults: a missing title, text colour or position.
func (b *Brand) Check() error {
	var errs []error
	b.Title = strings.TrimSpace(b.Title)
	if b.Title == "" {
		b.Title = DefaultTitle
	}
	b.Greeting = strings.TrimSpace(b.Greeting)
	if err := plainText("title", b.Title, maxTitle); err != nil {
		errs = append(errs, err)
	}
	if err := plainText("greeting", b.Greeting, maxGreeting); err != nil {
		errs = append(errs, err)
	}
	switch b.Position {
	case "":
		b.Position = "right"
	case "right", "left":
	default:
		errs = append(errs, fmt.Errorf("brand position %q: want right or left", b.Position))
	}
	if err := b.checkColors(); err != nil {
		errs = append(errs, err)
	}
	if len(b.Logo) > 0 && b.LogoType == "" {
		errs = append(errs, errors.New("brand logo: no media type (LogoType reads it)"))
	}
	return errors.Join(errs...)
}

func (b *Brand) checkColors() error {
	if b.Color == "" {
		if b.TextColor != "" {
			return errors.New("brand text colour without a brand colour: set the colour it is written on too")
		}
		return nil
	}
	bg, err := parseColor(b.Color)
	if err != nil {
		return fmt.Errorf("brand colour: %w", err)
	}
	b.Color = bg.String()
	if b.TextColor == "" {
		b.TextColor = darkText
		if white := must(parseColor(lightText)); contrast(bg, white) >= contrast(bg, must(parseColor(darkText))) {
			b.TextColor = lightText
		}
		return nil
	}
	fg, err := parseColor(b.TextColor)
	if err != nil {
		return fmt.Errorf("brand text colour: %w", err)
	}
	b.TextColor = fg.String()
	if c := contrast(bg, fg); c < minContrast {
		return fmt.Errorf("brand text colour %s on %s has a contrast of %.1f:1, below the %.1f:1 people need to read it (WCAG 2.1 AA): pick a darker or lighter one, or leave it unset", b.TextColor, b.Color, c, minContrast)
	}
	return nil
}

// plainText checks a setting shown as text: one line, printable, at most
// max characters.
func plainText(what, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("brand %s: not UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("brand %s: %d characters, at most %d", what, n, max)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("brand %s: %q is not printable text (one line, no control characters)", what, r)
		}
	}
	return nil
}

// LogoType is the media type of a logo file, from its name and checked
// against its bytes: PNG, JPEG, GIF, WebP or SVG, at most 256 KiB.
func LogoType(name string, b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("brand logo %s: empty", name)
	}
	if len(b) > maxLogo {
		return "", fmt.Errorf("brand logo %s: %d bytes, at most %d", name, len(b), maxLogo)
	}
	want := map[string]string{
		".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
		".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml",
	}[strings.ToLower(path.Ext(name))]
	if want == "" {
		return "", fmt.Errorf("brand logo %s: want a .png, .jpg, .gif, .webp or .svg file", name)
	}
	if want == "image/svg+xml" {
		if !bytes.Contains(b, []byte("<svg")) {
			return "", fmt.Errorf("brand logo %s: not an SVG image", name)
		}
		return want, nil
	}
	if got := http.DetectContentType(b); got != want {
		return "", fmt.Errorf("brand logo %s: the file is %s, not %s", name, got, want)
	}
	return want, nil
}

// rgb is a colour of the sRGB space, 0–255 a channel.
type rgb [3]uint8

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// parseColor reads #rgb or #rrggbb.
func parseColor(s string) (rgb, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	n, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 6 || err != nil || !strings.HasPrefix(strings.TrimSpace(s), "#") {
		return rgb{}, fmt.Errorf("%q: want #rgb or #rrggbb", s)
	}
	return rgb{uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
}

func must(c rgb, err error) rgb {
	if err != nil {
		panic(err)
	}
	return c
}

// luminance is WCAG 2.1's relative luminance.
func luminance(c rgb) float64 {
	var l [3]float64
	for i, v := range c {
		s := float64(v) / 255
		if s <= 0.04045 {
			l[i] = s / 12.92
		} else {
			l[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrast is WCAG 2.1's contrast ratio of two colours, 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

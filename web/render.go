package web

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/a-h/templ"
	templruntime "github.com/a-h/templ/runtime"
	"github.com/labstack/echo/v4"
)

// Render writes a component as the answer. Pages and fragments share URLs
// only through htmx, so the answer varies by HX-Request.
func Render(c echo.Context, code int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render %s: %w", c.Request().URL.Path, err)
	}
	c.Response().Header().Add("Vary", "HX-Request")
	return c.HTMLBlob(code, buf.Bytes())
}

// RenderAll renders the components one after the other into one frame.
// They share one templ buffer, which is flushed into the frame once (each
// would otherwise take its own and flush it, growing the frame piece by
// piece), and one templ context (each would otherwise make its own): what
// templ records in it, such as the CSS and scripts already written, is
// then shared by the fragments of one frame, which land in one document.
func RenderAll(comps ...templ.Component) ([]byte, error) {
	return RenderAllIn(context.Background(), comps...)
}

// RenderAllIn is RenderAll with what ctx carries (the views' language).
func RenderAllIn(ctx context.Context, comps ...templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := templruntime.GetBuffer(&buf)
	ctx = templ.InitializeContext(ctx)
	for _, c := range comps {
		if err := c.Render(ctx, w); err != nil {
			_ = templruntime.ReleaseBuffer(w)
			return nil, fmt.Errorf("render fragment: %w", err)
		}
	}
	if err := templruntime.ReleaseBuffer(w); err != nil {
		return nil, fmt.Errorf("render fragment: %w", err)
	}
	return buf.Bytes(), nil
}

// Clock is a time as the pages show it: its clock (15:04) and its ISO
// text for <time datetime>, in UTC (a page shows it in the reader's own
// zone); nothing for the zero time.
func Clock(t time.Time) (text, iso string) {
	if t.IsZero() || t.UnixMilli() == 0 {
		return "", ""
	}
	t = t.UTC()
	iso = t.Format(time.RFC3339)
	// The clock is in the ISO text ("2006-01-02T15:04:05Z") for a year of
	// four digits: one format instead of two.
	if len(iso) == len("2006-01-02T15:04:05Z") && iso[10] == 'T' {
		return iso[11:16], iso
	}
	return t.Format("15:04"), iso
}

package web

import (
	"bytes"
	"context"
	"fmt"
	"sync"

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

// WriteFrame is the socket frame that write appends to the buffer it is
// given: a reused one, so that write grows no buffer of its own; the frame
// returned is a copy the size of what was written (frames wait in tabs'
// queues, and most are small).
func WriteFrame(write func(b []byte) ([]byte, error)) ([]byte, error) {
	buf := frameBuffers.Get().(*[]byte)
	b, err := write((*buf)[:0])
	var frame []byte
	if err == nil {
		frame = bytes.Clone(b)
	}
	if cap(b) <= maxFrameBuffer {
		*buf = b[:0]
		frameBuffers.Put(buf)
	}
	if err != nil {
		return nil, fmt.Errorf("render fragment: %w", err)
	}
	return frame, nil
}

// frameBuffers are WriteFrame's buffers; one grown past maxFrameBuffer
// (a whole window) is left to the collector rather than kept.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxFrameBuffer = 64 << 10

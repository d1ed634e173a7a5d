package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// sharePNG uploads a w×h PNG as the agent and shares it in the dialog with
// its caption and the image itself as the preview; it returns the bytes
// and the event's sequence.
func sharePNG(t *testing.T, dialogID, caption string, w, h int) ([]byte, int64) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(40 + x), 90, uint8(200 - y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	up, err := env.agent.GenerateUploadURL(ctx, int64(b.Len()), "PNG")
	if err != nil {
		t.Fatalf("agent: upload URL: %v", err)
	}
	if err := messaging.Upload(ctx, nil, up, "image/png", b.Bytes()); err != nil {
		t.Fatalf("agent: upload: %v", err)
	}
	seq := env.agent.publish(t, dialogID, protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
		File: &protocol.HostedFile{Caption: caption, RelativePath: up.RelativePath, FileType: "PNG",
			Preview: "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())}})
	return b.Bytes(), seq
}

// TestBrowserSharedFile: the agent shares an image; the customer sees its
// caption and its thumbnail (a data: image, within the window's CSP), the
// file counts like any agent message for ACCEPT, and the bubble's link
// downloads the very bytes through the window, as a file saved by the
// browser.
func TestBrowserSharedFile(t *testing.T) {
	c := startChat(t)
	data, seq := sharePNG(t, c.convID, "Your parcel label", 48, 24)
	file := agentBubble(seq) + ` [data-testid="file"]`

	c.waitJS("the file's bubble", `!!document.querySelector(`+jsString(file)+`)`)
	if got := eval[string](c.tab, `document.querySelector(`+jsString(file+` [data-testid="file-caption"]`)+`).textContent`); got != "Your parcel label" {
		t.Errorf("caption %q", got)
	}
	thumb := jsString(file + ` img[data-testid="file-preview"]`)
	c.waitJS("the thumbnail loaded", `(() => { const i = document.querySelector(`+thumb+`); return !!i && i.complete && i.naturalWidth === 48 && i.naturalHeight === 24 })()`)
	if alt := eval[string](c.tab, `document.querySelector(`+thumb+`).alt`); alt != "Preview of Your parcel label" {
		t.Errorf("thumbnail alt %q", alt)
	}
	env.agent.waitReceipt(t, c.convID, accept, seq)

	// The browser saves what the link gives it.
	dir := t.TempDir()
	bctx := chromedp.FromContext(c.ctx).BrowserContextID
	if _, err := chromedp.CallBrowser(c.bounded(), browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: bctx, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	dctx, cancel := context.WithCancel(c.bounded())
	defer cancel()
	progress := chromedp.BrowserEvents(dctx, browser.DownloadProgress)
	c.do("click Download", chromedp.Click(chromedp.CSS(file+` [data-testid="file-download"]`)))
	var done browser.EventDownloadProgress
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State != browser.DownloadProgressStateInProgress {
			done = ev
			break
		}
	}
	if done.State != browser.DownloadProgressStateCompleted || done.TotalBytes != float64(len(data)) {
		t.Fatalf("download ended %s with %v of %d bytes", done.State, done.ReceivedBytes, len(data))
	}
	saved, err := filepath.Glob(filepath.Join(dir, "*.PNG"))
	if err != nil || len(saved) != 1 {
		t.Fatalf("saved files %v (%v)", saved, err)
	}
	got, err := os.ReadFile(saved[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("the saved file has %d bytes, not the %d shared", len(got), len(data))
	}
	if href := eval[string](c.tab, `document.querySelector(`+jsString(file+` [data-testid="file-download"]`)+`).getAttribute("href")`); len(href) < 8 || href[:8] != "/file?p=" {
		t.Errorf("the link %q is not the window's", href)
	}
	if p := c.problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations: %q", p)
	}
}

package relay

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

func encoded(t *testing.T, enc func(*bytes.Buffer, image.Image) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b, image.NewGray(image.Rect(0, 0, 4, 3))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func fileEvent(seq int64, from string, f protocol.HostedFile) protocol.MessagingEvent {
	ev := text(seq, from, "")
	ev.Event = protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile, File: &f}
	return ev
}

// TestSafePreview: a thumbnail reaches the page only as a base64 data URL
// of a PNG, JPEG, GIF or WebP image of at most 30 KB whose bytes are that
// type.
func TestSafePreview(t *testing.T) {
	pngB64 := encoded(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) })
	jpegB64 := encoded(t, func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) })
	gifB64 := encoded(t, func(b *bytes.Buffer, i image.Image) error { return gif.Encode(b, i, nil) })
	// A minimal WebP header (RIFF....WEBPVP8 ), as sniffed.
	webpB64 := base64.StdEncoding.EncodeToString([]byte("RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00"))
	big := "data:image/png;base64," + pngB64 + strings.Repeat("A", 30<<10)
	for _, tt := range []struct {
		name, preview string
		ok            bool
	}{
		{"png", "data:image/png;base64," + pngB64, true},
		{"jpeg", "data:image/jpeg;base64," + jpegB64, true},
		{"gif", "data:image/gif;base64," + gifB64, true},
		{"webp", "data:image/webp;base64," + webpB64, true},
		{"none", "", false},
		{"a png called jpeg", "data:image/jpeg;base64," + pngB64, false},
		{"svg", "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)), false},
		{"html", "data:text/html;base64," + base64.StdEncoding.EncodeToString([]byte("<script>alert(1)</script>")), false},
		{"not base64", "data:image/png," + pngB64, false},
		{"bad base64", "data:image/png;base64," + pngB64[:len(pngB64)-1] + "!", false},
		{"a parameter", "data:image/png;charset=utf-8;base64," + pngB64, false},
		{"upper case type", "data:IMAGE/PNG;base64," + pngB64, false},
		{"an https image", "https://example.com/a.png", false},
		{"javascript", "javascript:alert(1)//data:image/png;base64," + pngB64, false},
		{"empty data", "data:image/png;base64,", false},
		{"over 30 KB", big, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := ""
			if tt.ok {
				want = tt.preview
			}
			if got := filetype.SafePreview(tt.preview); got != want {
				t.Errorf("SafePreview(%.60q) = %.60q, want %.60q", tt.preview, got, want)
			}
		})
	}
}

// TestConversationFile: an agent's hosted/file is a message with its file
// (caption and type without direction controls, the preview only when
// safe), announced like any message; the customer's own file from another
// device is theirs and never taken for a text they are sending.
func TestConversationFile(t *testing.T) {
	c := NewConversation(me)
	thumb := "data:image/png;base64," + encoded(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) })
	ch := c.Apply(fileEvent(0, agentID, protocol.HostedFile{Caption: "Your \u202einvoice", RelativePath: "/v1/AUTH_async-images/1/a.PNG", FileType: "PNG", Preview: thumb}))
	if len(ch.Added) != 1 || ch.Announce != "New message" {
		t.Fatalf("change %+v", ch)
	}
	want := &File{Caption: "Your invoice", FileType: "PNG", RelativePath: "/v1/AUTH_async-images/1/a.PNG", Preview: thumb}
	if diff := cmp.Diff(want, ch.Added[0].File); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if m := ch.Added[0]; m.From != FromAgent || m.Text != "Your invoice" || !m.HasSeq {
		t.Errorf("message %+v", m)
	}

	c.Sending("l1", "A file (GIF)", ch.Added[0].At)
	ch = c.Apply(fileEvent(1, me, protocol.HostedFile{RelativePath: "/p.GIF", FileType: "GIF", Preview: "data:image/svg+xml;base64,PHN2Zy8+"}))
	// Stored before the text in flight: the page is rendered anew.
	msgs := c.Messages()
	if !ch.Reset || len(msgs) != 3 {
		t.Fatalf("own file: %+v, messages %+v", ch, msgs)
	}
	if f := msgs[1]; f.From != FromConsumer || f.File == nil || f.File.Preview != "" || f.Text != "A file (GIF)" || msgs[2].LocalID != "l1" {
		t.Fatalf("own file: %+v before %+v", f, msgs[2])
	}
	if l, ok := c.Local("l1"); !ok || l.Delivery != ReceiptPending {
		t.Errorf("the text being sent took the file's sequence: %+v", l)
	}
	if from, ok := c.Kind(conv, 0); !ok || from != FromAgent {
		t.Errorf("Kind of the file: %q %v", from, ok)
	}
}

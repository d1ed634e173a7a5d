package window

import (
	"bytes"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// TestFileMarkup: a shared file's bubble shows its caption as text, its
// type, the thumbnail only as the relay's checked data URL, and a download
// link to the window's own /file, with a name for screen readers; nothing
// in it runs or loads from elsewhere.
func TestFileMarkup(t *testing.T) {
	f := fragments{}
	const thumb = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNiAAAABgADNjd8qAAAAABJRU5ErkJggg=="
	withThumb := relay.Message{Message: transcript.Message{Key: "m-C1-4", DialogID: "C1", Seq: 4, HasSeq: true, Text: "x"}, From: relay.FromAgent,
		File: &relay.File{Caption: `<img src=x onerror=alert(1)>`, FileType: "PNG", RelativePath: "/v1/AUTH_async-images/123/a b&c.PNG", Preview: thumb}}
	bare := relay.Message{Message: transcript.Message{Key: "m-C1-5", DialogID: "C1", Seq: 5, HasSeq: true, Text: "A file (PDF)"}, From: relay.FromAgent,
		File: &relay.File{FileType: "PDF", RelativePath: "/v1/AUTH_async-images/123/id-9.PDF"}}
	b, err := f.Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Added: []relay.Message{withThumb, bare}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Find("script, [onload], [onerror], [style], .message-text").Length(); n != 0 {
		t.Errorf("%d script, inline-style or plain-text elements in %s", n, b)
	}
	first := doc.Find(`#m-C1-4 [data-testid="file"]`)
	if got := first.Find(`[data-testid="file-caption"]`).Text(); got != `<img src=x onerror=alert(1)>` {
		t.Errorf("caption %q", got)
	}
	if got := first.Find(`[data-testid="file-type"]`).Text(); got != "PNG" {
		t.Errorf("type %q", got)
	}
	if src, _ := first.Find("img").Attr("src"); src != thumb {
		t.Errorf("thumbnail src %q", src)
	}
	if alt, _ := first.Find("img").Attr("alt"); alt != `Preview of <img src=x onerror=alert(1)>` {
		t.Errorf("thumbnail alt %q", alt)
	}
	link := first.Find(`a[data-testid="file-download"]`)
	if href, _ := link.Attr("href"); href != "/file?p=%2Fv1%2FAUTH_async-images%2F123%2Fa+b%26c.PNG" {
		t.Errorf("href %q", href)
	}
	if name, _ := link.Attr("download"); name != "file" {
		t.Errorf("download name %q (a path the window would not ask for)", name)
	}
	second := doc.Find(`#m-C1-5 [data-testid="file"]`)
	if second.Find("img").Length() != 0 || second.Find(`[data-testid="file-caption"]`).Length() != 0 {
		t.Errorf("a file without preview or caption: %s", b)
	}
	link = second.Find(`a[data-testid="file-download"]`)
	if label, _ := link.Attr("aria-label"); label != "Download id-9.PDF" {
		t.Errorf("aria-label %q", label)
	}
	if doc.Find("img").Length() != 1 {
		t.Errorf("%d images, want the one thumbnail", doc.Find("img").Length())
	}
}

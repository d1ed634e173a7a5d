package web_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// anchor is a link as a bubble renders it.
type anchor struct{ Href, Rel, Target, Text string }

// TestRenderTextLinks: the links in a message's text (the agent's or the
// customer's) are rendered as links, http and https only, opening a new
// tab with rel="noopener noreferrer"; everything else is the text as
// written (line breaks included), never markup.
func TestRenderTextLinks(t *testing.T) {
	r := testRenderer(t)
	link := func(text, href string) anchor {
		return anchor{Href: href, Rel: "noopener noreferrer", Target: "_blank", Text: text}
	}
	tests := []struct {
		name string
		text string
		want []anchor
	}{
		{"plain", "No link here.\nJust lines.", nil},
		{"one link", "Track it: https://example.com/track?id=1&x=2.", []anchor{link("https://example.com/track?id=1&x=2", "https://example.com/track?id=1&x=2")}},
		{"two links on lines", "http://a.example\nhttps://b.example/x", []anchor{link("http://a.example", "http://a.example"), link("https://b.example/x", "https://b.example/x")}},
		{"scheme in capitals", "HTTPS://Example.com", []anchor{link("HTTPS://Example.com", "https://Example.com")}},
		{"javascript", "javascript:alert(1)", nil},
		{"javascript in mixed case", "JaVaScRiPt:alert(1)", nil},
		{"javascript with a tab", "java\tscript:alert(1)", nil},
		{"javascript as an entity", "&#106;avascript:alert(1)", nil},
		{"a link in markup", `<a href="javascript:alert(1)">https://example.com/"onclick="alert(1)</a>`,
			[]anchor{link("https://example.com/", "https://example.com/")}},
		{"angle brackets", "<https://example.com/a><script>alert(1)</script>", []anchor{link("https://example.com/a", "https://example.com/a")}},
		{"IDN", "https://bücher.example/ä", []anchor{link("https://bücher.example/ä", "https://bücher.example/ä")}},
		{"credentials", "https://bank.example@evil.example/", nil},
	}
	at := time.UnixMilli(1700000000000)
	for _, tt := range tests {
		for _, from := range []string{relay.FromAgent, relay.FromConsumer} {
			t.Run(tt.name+"/"+from, func(t *testing.T) {
				m := relay.Message{Message: transcript.Message{Key: "m-1", DialogID: "d", Seq: 1, HasSeq: true, Text: tt.text, At: at, Own: from == relay.FromConsumer}, From: from}
				v := relay.View{Connection: messaging.StateOpen, Phase: relay.PhaseOpen, Messages: []relay.Message{m}}
				for _, render := range []func() ([]byte, error){
					func() ([]byte, error) { return r.Window(v) },
					func() ([]byte, error) { return r.Change(v, relay.Change{Added: v.Messages}) },
				} {
					b, err := render()
					if err != nil {
						t.Fatal(err)
					}
					doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
					if err != nil {
						t.Fatal(err)
					}
					checkInert(t, doc)
					text := doc.Find(`[data-testid="message"] .message-text`)
					if got := text.Text(); got != tt.text {
						t.Errorf("the bubble's text is %q, want %q", got, tt.text)
					}
					var got []anchor
					text.Find("a").Each(func(_ int, a *goquery.Selection) {
						href, _ := a.Attr("href")
						rel, _ := a.Attr("rel")
						target, _ := a.Attr("target")
						got = append(got, anchor{Href: href, Rel: rel, Target: target, Text: a.Text()})
					})
					if diff := cmp.Diff(tt.want, got); diff != "" {
						t.Errorf("links (-want +got):\n%s", diff)
					}
					if n := text.Children().Not("a").Length(); n != 0 {
						t.Errorf("the text holds %d elements besides its links", n)
					}
				}
			})
		}
	}
}

// TestRenderKinds: every bubble says what it holds (data-kind): text, a
// card, a file, or a file that is an image.
func TestRenderKinds(t *testing.T) {
	r := testRenderer(t)
	at := time.UnixMilli(1700000000000)
	msg := func(key string) relay.Message {
		return relay.Message{Message: transcript.Message{Key: key, DialogID: "d", Seq: 1, HasSeq: true, Text: "x", At: at}, From: relay.FromAgent}
	}
	text := msg("text")
	card := msg("card")
	card.Rich = richcontent.Parse(json.RawMessage(`{"type":"vertical","elements":[{"type":"text","text":"Hi"}]}`), nil)
	file := msg("file")
	file.File = &relay.File{FileType: "PDF", RelativePath: "a/b.pdf"}
	image := msg("image")
	image.File = &relay.File{FileType: "PNG", RelativePath: "a/b.png"}
	mine := msg("mine")
	mine.Own, mine.From = true, relay.FromConsumer
	v := relay.View{Connection: messaging.StateOpen, Phase: relay.PhaseOpen, Notice: "Restarted.", Messages: []relay.Message{text, card, file, image, mine}}
	b, err := r.Window(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	doc.Find(`[data-testid="message"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		got[id], _ = s.Attr("data-kind")
	})
	want := map[string]string{"notice": "text", "text": "text", "card": "card", "file": "file", "image": "image", "mine": "text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("data-kind by bubble (-want +got):\n%s", diff)
	}
}

// agentLinksChange is the change of an agent's text with links, a
// javascript: one that stays text, and line breaks.
func agentLinksChange(t *testing.T) (relay.View, relay.Change) {
	t.Helper()
	c := benchOpen()
	ch := c.Apply(benchText(3, benchAgent, "Your parcel: https://example.com/track?id=1&x=<2>.\nNot this: javascript:alert(1)\n(Or http://Example.com/Go_(x))"))
	if len(ch.Added) != 1 {
		t.Fatalf("the agent's message made %+v", ch)
	}
	return benchView(c), ch
}

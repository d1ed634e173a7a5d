package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

func TestParseActionFrame(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		seq       int64
		index     int
		wantError bool
	}{
		{name: "from a ws-send form (strings)", in: `{"type":"action","dialogId":"C1","seq":"4","index":"1","text":"yes","HEADERS":{"HX-Request":"true"}}`, seq: 4, index: 1},
		{name: "numbers", in: `{"type":"action","dialogId":"C1","seq":4,"index":0}`, seq: 4},
		{name: "no dialog", in: `{"type":"action","seq":4,"index":0}`, wantError: true},
		{name: "dialog too long", in: `{"type":"action","dialogId":"` + strings.Repeat("d", 200) + `","seq":4,"index":0}`, wantError: true},
		{name: "no seq", in: `{"type":"action","dialogId":"C1","index":0}`, wantError: true},
		{name: "negative seq", in: `{"type":"action","dialogId":"C1","seq":-1,"index":0}`, wantError: true},
		{name: "fractional seq", in: `{"type":"action","dialogId":"C1","seq":1.5,"index":0}`, wantError: true},
		{name: "seq not a number", in: `{"type":"action","dialogId":"C1","seq":"4; DROP","index":0}`, wantError: true},
		{name: "seq an object", in: `{"type":"action","dialogId":"C1","seq":{"a":1},"index":0}`, wantError: true},
		{name: "no index", in: `{"type":"action","dialogId":"C1","seq":4}`, wantError: true},
		{name: "negative index", in: `{"type":"action","dialogId":"C1","seq":4,"index":"-1"}`, wantError: true},
		{name: "huge index", in: `{"type":"action","dialogId":"C1","seq":4,"index":99999999999999999999}`, wantError: true},
		{name: "text too long", in: `{"type":"action","dialogId":"C1","seq":4,"index":0,"text":"` + strings.Repeat("x", relay.MaxText+1) + `"}`, wantError: true},
		{name: "dialog not a string", in: `{"type":"action","dialogId":7,"seq":4,"index":0}`, wantError: true},
		{name: "not JSON", in: `{"type":"action",`, wantError: true},
		{name: "a link (chat.js: strings)", in: `{"type":"link","dialogId":"C1","seq":"4","index":"2"}`, seq: 4, index: 2},
		{name: "a link without its index", in: `{"type":"link","dialogId":"C1","seq":"4"}`, wantError: true},
		{name: "a link without its dialog", in: `{"type":"link","seq":"4","index":"0"}`, wantError: true},
		{name: "a link with a bad seq", in: `{"type":"link","dialogId":"C1","seq":"x","index":"0"}`, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseBrowserFrame([]byte(tt.in))
			if tt.wantError {
				if !errors.Is(err, pagesocket.ErrFrame) {
					t.Fatalf("err = %v, want pagesocket.ErrFrame", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			seq, index, err := f.action()
			if err != nil || seq != tt.seq || index != tt.index {
				t.Errorf("action() = %d, %d, %v; want %d, %d", seq, index, err, tt.seq, tt.index)
			}
		})
	}
}

// TestCardMarkup: a hostile card renders as text, its links only when
// https, with rel noopener, its https images through the image proxy,
// buttons as ws-send forms.
func TestCardMarkup(t *testing.T) {
	f := fragments{images: newCardImages([][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}, nil)}
	card := `{"type":"vertical","elements":[
		{"type":"text","text":"<script>alert(1)</script>","style":{"bold":true}},
		{"type":"image","url":"data:image/svg+xml,<svg onload=alert(1)>","tooltip":"bad image"},
		{"type":"image","url":"https://img.example/a.png","tooltip":"good image"},
		{"type":"button","title":"bad link","click":{"actions":[{"type":"link","uri":"javascript:alert(1)"}]}},
		{"type":"button","title":"good link","click":{"actions":[{"type":"link","uri":"https://docs.example/"}]}},
		{"type":"button","title":"Gold\"><b>x</b>","click":{"actions":[{"type":"publishText","text":"gold"}]}}]}`
	qr := `[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]`
	m := relay.Message{Message: transcript.Message{Key: "m-C1-3", DialogID: "C1", Seq: 3, HasSeq: true}, From: relay.FromAgent, Rich: richcontent.Parse(json.RawMessage(card), json.RawMessage(qr)), RepliesOpen: true}
	m.Text = m.Rich.Text()
	b, err := f.Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Added: []relay.Message{m}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Find("script, [onload], [onerror], [style]").Length(); n != 0 {
		t.Errorf("%d script or inline-style elements in %s", n, b)
	}
	if got := doc.Find(".card-text.card-bold").Text(); got != "<script>alert(1)</script>" {
		t.Errorf("text %q", got)
	}
	var srcs []string
	doc.Find("img").Each(func(_ int, s *goquery.Selection) {
		src, _ := s.Attr("src")
		srcs = append(srcs, src)
		if alt, _ := s.Attr("alt"); alt != "good image" {
			t.Errorf("img alt %q", alt)
		}
		if l, _ := s.Attr("loading"); l != "lazy" {
			t.Errorf("img loading %q", l)
		}
	})
	if len(srcs) != 1 || !strings.HasPrefix(srcs[0], "/image?u="+url.QueryEscape("https://img.example/a.png")+"&s=") {
		t.Errorf("images %q, want only the https one, through the image proxy", srcs)
	}
	links := doc.Find("a")
	if links.Length() != 1 {
		t.Fatalf("%d links, want 1: %s", links.Length(), b)
	}
	if href, _ := links.Attr("href"); href != "https://docs.example/" {
		t.Errorf("href %q", href)
	}
	if rel, _ := links.Attr("rel"); rel != "noopener noreferrer" {
		t.Errorf("rel %q", rel)
	}
	if tg, _ := links.Attr("target"); tg != "_blank" {
		t.Errorf("target %q", tg)
	}
	if dl, _ := links.Attr("data-link"); dl != "0" {
		t.Errorf("data-link %q, want the link's index 0", dl)
	}
	if !strings.Contains(doc.Find(".card").Text(), "bad link") || !strings.Contains(doc.Find(".card").Text(), "bad image") {
		t.Errorf("the refused link's and image's texts are missing: %s", doc.Find(".card").Text())
	}
	forms := doc.Find("form[ws-send]")
	if forms.Length() != 2 {
		t.Fatalf("%d answer forms, want 2 (card button, quick reply)", forms.Length())
	}
	want := []map[string]string{
		{"type": "action", "dialogId": "C1", "seq": "3", "index": "0", "text": "gold"},
		{"type": "action", "dialogId": "C1", "seq": "3", "index": "1", "text": "yes"},
	}
	forms.Each(func(i int, f *goquery.Selection) {
		got := map[string]string{}
		f.Find("input[type=hidden]").Each(func(_ int, in *goquery.Selection) {
			name, _ := in.Attr("name")
			got[name], _ = in.Attr("value")
		})
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("form %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
		if f.Find("button[type=submit]").Length() != 1 {
			t.Errorf("form %d has no submit button", i)
		}
	})
	if doc.Find(`[role=group][aria-label="Quick replies"] button`).Text() != "Yes" {
		t.Errorf("quick replies group: %s", b)
	}

	// Closed replies are not offered.
	m.RepliesOpen = false
	b, err = f.Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Updated: []relay.Message{m}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("quick-replies")) {
		t.Errorf("closed quick replies rendered: %s", b)
	}

	// Answered: the card's button is disabled; chosen, it says so in words
	// and with a mark (not by colour alone); its test hook stays.
	for _, tt := range []struct {
		name   string
		chosen int
		want   string
	}{
		{name: "this button chosen", chosen: 0, want: `<button type="submit" dir="auto" data-testid="card-button" disabled data-chosen="true"><span class="choice-mark" aria-hidden="true">✓ </span>Gold&#34;&gt;&lt;b&gt;x&lt;/b&gt;<span class="sr-only">, your answer</span></button>`},
		{name: "which one is not known", chosen: -1, want: `<button type="submit" dir="auto" data-testid="card-button" disabled>Gold&#34;&gt;&lt;b&gt;x&lt;/b&gt;</button>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.Answered, m.Chosen = true, tt.chosen
			b, err := fragments{}.Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Updated: []relay.Message{m}})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tt.want)) {
				t.Errorf("answered card: want %s in %s", tt.want, b)
			}
		})
	}
}

package views_test

import (
	"bytes"
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/chatwindow/chatwindow/views"
)

// FuzzAppendMessageItem: whatever its fields hold, a hand-written bubble
// parses as one list item whose attributes and texts are the message's
// own, read back by an HTML parser: no field becomes markup, and nothing
// is lost. (The bytes are held to what templ wrote by web's
// TestRenderGolden.)
func FuzzAppendMessageItem(f *testing.F) {
	f.Add("I'd like to change my <b>delivery</b> address", "l-1", "d", "consumer", "accepted", "Delivered", "1", "", "", int64(4), uint8(3), int64(1_700_000_000_000), int64(1_700_000_005_000))
	f.Add(`<script>alert(1)</script>"' onmouseover="x" &amp;`, `m-"><img>`, `d'"`, "agent", "", "", "", "https://a.example/?q=<1>&r='2'", "https://a.example/?q=<1>&r='2'", int64(-1), uint8(5), int64(0), int64(0))
	f.Add("javascript:alert(1) שלום \u202Egnp.exe", "m-1", "d", "system", "failed", "Not sent", `l"<&>'`, "javascript:alert(1)", "click", int64(1<<62), uint8(4), int64(253402300800000), int64(-62135596800000))
	f.Add("a\r\nb\rc\x00d\xff", "x", "y", "z", "pending", "Sending", "", "HTTP://X", "x\x00", int64(0), uint8(6), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, text, id, dialog, from, receipt, label, local, url, linkText string, seq int64, flags uint8, at, receiptAt int64) {
		m := views.Message{
			ID: id, DialogID: dialog, Seq: seq, HasSeq: flags&1 != 0, From: from, Text: text,
			At: time.UnixMilli(at), Receipt: receipt, ReceiptLabel: label, ReceiptAt: time.UnixMilli(receiptAt), LocalID: local,
		}
		if flags&4 != 0 {
			m.Parts = []views.TextPart{{Text: text}, {Text: linkText, URL: url}, {Text: text}}
		}
		oob := flags&2 != 0
		out, err := views.AppendMessageItem(context.Background(), []byte("kept"), m, oob)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte("kept")) {
			t.Fatalf("the bytes before the bubble changed: %q", out)
		}
		li := parseItem(t, out[len("kept"):])

		attrs := map[string]string{}
		for _, a := range li.Attr {
			attrs[a.Key] = a.Val
		}
		want := map[string]string{
			"id": attrValue(id), "class": attrValue("message message-" + from), "data-testid": "message", "data-kind": "text",
			"data-from": attrValue(from), "data-dialog-id": attrValue(dialog),
		}
		if oob {
			want["hx-swap-oob"] = "true"
		}
		if m.HasSeq {
			want["data-seq"] = strconv.FormatInt(seq, 10)
		}
		if receipt != "" {
			want["data-receipt"] = attrValue(receipt)
		}
		if !maps.Equal(attrs, want) {
			t.Fatalf("attributes %q, want %q", attrs, want)
		}

		// The text round-trips, its links (only) are elements.
		p := child(li, "p")
		if p == nil || attr(p, "class") != "message-text" {
			t.Fatalf("no message text in %q", out)
		}
		var links []string
		var got strings.Builder
		for c := p.FirstChild; c != nil; c = c.NextSibling {
			switch {
			case c.Type == html.TextNode:
				got.WriteString(c.Data)
			case c.Type == html.ElementNode && c.DataAtom == atom.A && c.FirstChild == c.LastChild && (c.FirstChild == nil || c.FirstChild.Type == html.TextNode):
				links = append(links, attr(c, "href"))
				if len(c.Attr) != 5 || attr(c, "target") != "_blank" || attr(c, "rel") != "noopener noreferrer" {
					t.Fatalf("a link of %q has attributes %q", out, c.Attr)
				}
				if c.FirstChild != nil {
					got.WriteString(c.FirstChild.Data)
				}
			default:
				t.Fatalf("markup in the message text of %q", out)
			}
		}
		wantText, wantLinks := textValue(text), []string(nil)
		if m.Parts != nil {
			wantText = textValue(text + linkText + text)
			wantLinks = []string{attrValue(string(templ.URL(url)))}
		}
		if got.String() != wantText {
			t.Errorf("text %q, want %q", got.String(), wantText)
		}
		if strings.Join(links, "\n") != strings.Join(wantLinks, "\n") {
			t.Errorf("links %q, want %q", links, wantLinks)
		}

		// The times, the ticks' label and a failed message's local id.
		var times []string
		walk(li, func(n *html.Node) {
			if n.DataAtom == atom.Time {
				times = append(times, attr(n, "datetime")+" "+n.FirstChild.Data)
			}
		})
		var wantTimes []string
		for i, at := range []time.Time{m.At, m.ReceiptAt} {
			// The receipt's time (the second) is shown in the ticks only.
			if clock, iso := views.Clock(at); iso != "" && (i == 0 || receipt != "") {
				wantTimes = append(wantTimes, iso+" "+clock)
			}
		}
		if strings.Join(times, "|") != strings.Join(wantTimes, "|") {
			t.Errorf("times %q, want %q", times, wantTimes)
		}
		if receipt != "" {
			var ticks *html.Node
			walk(li, func(n *html.Node) {
				if attr(n, "data-testid") == "ticks" {
					ticks = n
				}
			})
			if ticks == nil || attr(ticks, "title") != attrValue(label) {
				t.Errorf("ticks of %q: want the title %q", out, label)
			}
		}
		var localID *string
		walk(li, func(n *html.Node) {
			if attr(n, "name") == "localId" {
				v := attr(n, "value")
				localID = &v
			}
		})
		if (localID != nil) != (receipt == "failed") || localID != nil && *localID != attrValue(local) {
			t.Errorf("the retry's local id of %q: want one (%q) only when failed", out, local)
		}
	})
}

// parseItem parses b as the content of a list and returns its one item.
func parseItem(t *testing.T, b []byte) *html.Node {
	t.Helper()
	nodes, err := html.ParseFragment(bytes.NewReader(b), &html.Node{Type: html.ElementNode, Data: "ol", DataAtom: atom.Ol})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].DataAtom != atom.Li {
		t.Fatalf("%q is not one list item", b)
	}
	return nodes[0]
}

// textValue and attrValue are s as a parser reads it back from a text
// and from an attribute: HTML's input stream turns line ends into \n, and
// a NUL is dropped from a text, made U+FFFD in an attribute.
func textValue(s string) string { return strings.ReplaceAll(lines(s), "\x00", "") }
func attrValue(s string) string { return strings.ReplaceAll(lines(s), "\x00", "\uFFFD") }
func lines(s string) string     { return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s) }

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func child(n *html.Node, tag string) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			return c
		}
	}
	return nil
}

func walk(n *html.Node, visit func(*html.Node)) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			visit(c)
		}
		walk(c, visit)
	}
}

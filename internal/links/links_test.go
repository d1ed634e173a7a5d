package links_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/links"
)

// text and link are segments, for the tables.
func text(s string) links.Segment      { return links.Segment{Text: s} }
func link(s, url string) links.Segment { return links.Segment{Text: s, URL: url} }
func same(s string) links.Segment      { return links.Segment{Text: s, URL: s} }

func TestSplit(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", links.MaxURL)
	tests := []struct {
		name string
		in   string
		want []links.Segment // nil: no link, the text is shown as it is
	}{
		{"plain", "Hello, how can I help?", nil},
		{"empty", "", nil},
		{"one link", "See https://example.com/track/1 for it", []links.Segment{text("See "), same("https://example.com/track/1"), text(" for it")}},
		{"plain http", "http://example.com", []links.Segment{same("http://example.com")}},
		{"scheme in capitals", "HTTPS://Example.COM/A", []links.Segment{link("HTTPS://Example.COM/A", "https://Example.COM/A")}},
		{"mixed case scheme", "HtTp://example.com", []links.Segment{link("HtTp://example.com", "http://example.com")}},
		{"two links and line breaks", "a\nhttps://a.example\nb http://b.example/x?y=1#z\n",
			[]links.Segment{text("a\n"), same("https://a.example"), text("\nb "), same("http://b.example/x?y=1#z"), text("\n")}},

		// Every other scheme stays text, however it is spelled.
		{"javascript", "javascript:alert(1)", nil},
		{"javascript in mixed case", "JaVaScRiPt:alert(1)", nil},
		{"javascript with a tab", "java\tscript:alert(1)", nil},
		{"javascript with a newline", "java\nscript:alert(1)", nil},
		{"javascript as entities", "&#106;avascript:alert(1)", nil},
		{"javascript as hex entities", "&#x6A;avascript&#x3A;alert(1)", nil},
		{"javascript with a NUL", "\x00javascript:alert(1)", nil},
		{"javascript with slashes", "javascript://%0Aalert(1)", nil},
		{"vbscript", "vbscript:msgbox(1)", nil},
		{"data", "data:text/html,<script>alert(1)</script>", nil},
		{"file", "file:///etc/passwd", nil},
		{"protocol-relative", "//evil.example/", nil},
		{"no slashes", "https:javascript:alert(1)", nil},
		{"one slash", "http:/example.com", nil},
		{"www without a scheme", "www.example.com", nil},
		{"an http URL after javascript", "javascript:alert(1)//http://x.example",
			[]links.Segment{text("javascript:alert(1)//"), same("http://x.example")}},
		{"an entity-spelled scheme", "&#104;ttp://example.com", nil},
		{"a fullwidth scheme", "ｈｔｔｐ://example.com", nil},

		// Inside a word or another scheme: not a link.
		{"inside a word", "xhttp://example.com", nil},
		{"another scheme's tail", "git+https://example.com/r", nil},
		{"after an underscore", "a_http://example.com", nil},

		// Where a URL ends.
		{"quotes end it", `http://x.example/"onmouseover="alert(1)`,
			[]links.Segment{same("http://x.example/"), text(`"onmouseover="alert(1)`)}},
		{"angle brackets end it", `<http://x.example/a><script>alert(1)</script>`,
			[]links.Segment{text("<"), same("http://x.example/a"), text("><script>alert(1)</script>")}},
		{"markup after the host", `http://x.example<img src=x onerror=alert(1)>`,
			[]links.Segment{same("http://x.example"), text("<img src=x onerror=alert(1)>")}},
		{"nothing but markup after the scheme", `http://<script>alert(1)</script>`, nil},
		{"single quotes around", `'https://x.example/a'`, []links.Segment{text("'"), same("https://x.example/a"), text("'")}},
		{"an apostrophe inside", `https://x.example/it's`, []links.Segment{same("https://x.example/it's")}},
		{"a backtick ends it", "`https://x.example/a`", []links.Segment{text("`"), same("https://x.example/a"), text("`")}},
		{"a backslash ends it", `https://x.example\@evil.example`, []links.Segment{same("https://x.example"), text(`\@evil.example`)}},
		{"a full stop", "Go to https://example.com.", []links.Segment{text("Go to "), same("https://example.com"), text(".")}},
		{"punctuation", "https://example.com/a?!, then", []links.Segment{same("https://example.com/a"), text("?!, then")}},
		{"in parentheses", "(see https://example.com/a)", []links.Segment{text("(see "), same("https://example.com/a"), text(")")}},
		{"balanced parentheses kept", "https://en.wikipedia.org/wiki/Go_(language)", []links.Segment{same("https://en.wikipedia.org/wiki/Go_(language)")}},
		{"balanced in parentheses", "(https://en.wikipedia.org/wiki/Go_(language)).", []links.Segment{text("("), same("https://en.wikipedia.org/wiki/Go_(language)"), text(").")}},
		{"square brackets", "[https://example.com]", []links.Segment{text("["), same("https://example.com"), text("]")}},
		{"a non-breaking space ends it", "https://example.com/a\u00a0b", []links.Segment{same("https://example.com/a"), text("\u00a0b")}},
		{"a zero-width space ends it", "https://example.com/a\u200bb", []links.Segment{same("https://example.com/a"), text("\u200bb")}},
		{"a direction mark ends it", "https://example.com/a\u200fb", []links.Segment{same("https://example.com/a"), text("\u200fb")}},
		{"a control character ends it", "https://example.com/a\x7fb", []links.Segment{same("https://example.com/a"), text("\x7fb")}},
		{"typographic quotes end it", "“https://example.com/a”", []links.Segment{text("“"), same("https://example.com/a"), text("”")}},

		// Hosts.
		{"IDN", "https://bücher.example/straße?q=ä", []links.Segment{same("https://bücher.example/straße?q=ä")}},
		{"IDN in another script", "מידע: https://דוגמה.example/עמוד", []links.Segment{text("מידע: "), same("https://דוגמה.example/עמוד")}},
		{"punycode", "https://xn--bcher-kva.example", []links.Segment{same("https://xn--bcher-kva.example")}},
		{"IPv4", "http://192.0.2.1:8080/x", []links.Segment{same("http://192.0.2.1:8080/x")}},
		{"IPv6", "http://[2001:db8::1]/x", []links.Segment{same("http://[2001:db8::1]/x")}},
		{"a bad IPv6", "http://[zz]/x", nil},
		{"credentials", "https://bank.example@evil.example/", nil},
		{"a user alone", "https://user@example.com/", nil},
		{"no host", "https:///path", nil},
		{"scheme alone", "https://", nil},
		{"an empty label", "https://a..example/", nil},
		{"a label with a hyphen at its end", "https://a-.example/", nil},
		{"a percent in the host", "https://%65vil.example/", nil},
		{"a bad escape", "https://example.com/%zz", nil},
		{"a port too big", "http://example.com:99999/", nil},
		{"a port of zero", "http://example.com:0/", nil},
		{"a port with a letter", "http://example.com:8o/", nil},
		{"a bad link then a good one", "https://a..example https://b.example",
			[]links.Segment{text("https://a..example "), same("https://b.example")}},

		// Size.
		{"too long", long, nil},
		{"too long then a link", long + " https://b.example", []links.Segment{text(long + " "), same("https://b.example")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := links.Split(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Split(%q) (-want +got):\n%s", tt.in, diff)
			}
			if got != nil {
				var b strings.Builder
				for _, s := range got {
					b.WriteString(s.Text)
				}
				if b.String() != tt.in {
					t.Errorf("the segments join to %q, want the text %q", b.String(), tt.in)
				}
			}
			for _, s := range got {
				if s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
					t.Errorf("a link to %q", s.URL)
				}
			}
		})
	}
}

// TestSplitManyLinks: a text with more links than MaxLinks keeps the first
// MaxLinks as links and the rest as text, and loses nothing.
func TestSplitManyLinks(t *testing.T) {
	var b strings.Builder
	for range links.MaxLinks + 5 {
		b.WriteString("https://example.com/ ")
	}
	in := b.String()
	got := links.Split(in)
	n := 0
	var joined strings.Builder
	for _, s := range got {
		joined.WriteString(s.Text)
		if s.URL != "" {
			n++
		}
	}
	if n != links.MaxLinks {
		t.Errorf("%d links, want %d", n, links.MaxLinks)
	}
	if joined.String() != in {
		t.Error("the segments do not join to the text")
	}
}

// TestSplitLongText: a long text without links, or with a long run of
// URL-like characters, is split once through (no quadratic rescans).
func TestSplitLongText(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("hhhh ", 200_000),
		strings.Repeat("http:/", 100_000),
		"https://" + strings.Repeat("a", 1_000_000),
		strings.Repeat("(https://x.example/)", 10_000),
	} {
		got := links.Split(in)
		var joined strings.Builder
		for _, s := range got {
			joined.WriteString(s.Text)
		}
		if got != nil && joined.String() != in {
			t.Errorf("the segments of a %d-byte text do not join to it", len(in))
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"https://example.com", "x http://a.example/(b) y", "javascript:alert(1)", "https://bücher.example."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := links.Split(in)
		if got == nil {
			return
		}
		var joined strings.Builder
		for _, s := range got {
			joined.WriteString(s.Text)
			if s.URL == "" {
				continue
			}
			if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
				t.Fatalf("a link to %q", s.URL)
			}
			if strings.ContainsAny(s.URL, "\"<>`\\ \t\n\r") {
				t.Fatalf("a link to %q", s.URL)
			}
		}
		if joined.String() != in {
			t.Fatalf("the segments join to %q, want %q", joined.String(), in)
		}
	})
}

package richcontent

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func text(s string) Node { return Node{Kind: KindText, Text: s, Choice: -1} }

func vertical(ch ...Node) *Node {
	return &Node{Kind: KindLayout, Layout: Vertical, Children: ch, Choice: -1}
}

func TestParseCard(t *testing.T) {
	tests := []struct {
		name    string
		card    string
		want    *Node
		choices []Choice
	}{
		{
			name: "the demo bot's card",
			card: `{"type":"vertical","elements":[
				{"type":"text","text":"chatwindow demo card","tooltip":"chatwindow demo card","style":{"bold":true,"size":"large","color":"#f00"}},
				{"type":"image","url":"https://example.com/a.png","tooltip":"A demo image"},
				{"type":"button","title":"Read the docs","click":{"actions":[{"type":"link","name":"Read the docs","uri":"https://developers.liveperson.com/"}]}},
				{"type":"button","title":"Opening hours","click":{"actions":[{"type":"publishText","text":"hours"}],"metadata":[{"type":"ExternalId","id":"hours"}]}}]}`,
			want: vertical(
				Node{Kind: KindText, Text: "chatwindow demo card", Bold: true, Size: SizeLarge, Choice: -1},
				Node{Kind: KindImage, URL: "https://example.com/a.png", Alt: "A demo image", Choice: -1},
				Node{Kind: KindLink, Text: "Read the docs", URL: "https://developers.liveperson.com/", Choice: -1},
				Node{Kind: KindButton, Text: "Opening hours", Choice: 0},
			),
			choices: []Choice{{Title: "Opening hours", Text: "hours", Metadata: json.RawMessage(`[{"id":"hours","type":"ExternalId"}]`)}},
		},
		{
			name: "javascript link keeps its title as text",
			card: `{"type":"vertical","elements":[{"type":"button","title":"Click me","click":{"actions":[{"type":"link","uri":"javascript:alert(1)"}]}}]}`,
			want: vertical(text("Click me")),
		},
		{
			name: "other hostile link schemes",
			card: `{"type":"horizontal","elements":[
				{"type":"button","title":"a","click":{"actions":[{"type":"link","uri":"JaVaScRiPt:alert(1)"}]}},
				{"type":"button","title":"b","click":{"actions":[{"type":"link","uri":" data:text/html,<script>alert(1)</script>"}]}},
				{"type":"button","title":"c","click":{"actions":[{"type":"link","uri":"vbscript:msgbox"}]}},
				{"type":"button","title":"d","click":{"actions":[{"type":"link","uri":"/relative/path"}]}},
				{"type":"button","title":"e","click":{"actions":[{"type":"link","uri":"//evil.example/x"}]}},
				{"type":"button","title":"f","click":{"actions":[{"type":"link","uri":"java\tscript:alert(1)"}]}},
				{"type":"button","title":"g","click":{"actions":[{"type":"link","uri":"https://user:pw@bank.example/"}]}},
				{"type":"button","title":"h","click":{"actions":[{"type":"link","uri":"https:evil"}]}}]}`,
			want: &Node{Kind: KindLayout, Layout: Horizontal, Choice: -1, Children: []Node{
				text("a"), text("b"), text("c"), text("d"), text("e"), text("f"), text("g"), text("h"),
			}},
		},
		{
			name: "data image becomes its alternative text",
			card: `{"type":"vertical","elements":[{"type":"image","url":"data:image/svg+xml,<svg onload=alert(1)>","tooltip":"A picture"},{"type":"image","url":"javascript:alert(1)"}]}`,
			want: vertical(text("A picture")),
		},
		{
			name: "script-looking text stays text",
			card: `{"type":"vertical","elements":[{"type":"text","text":"<script>alert(1)</script><img src=x onerror=alert(2)>"}]}`,
			want: vertical(text("<script>alert(1)</script><img src=x onerror=alert(2)>")),
		},
		{
			name: "unknown elements degrade to their text",
			card: `{"type":"vertical","elements":[{"type":"map","la":1,"lo":2,"tooltip":"x"},{"type":"checkbox","text":"Tick me"},{"type":"fancy","title":"Title","text":"Body"},{"type":"nothing"}]}`,
			want: vertical(text("Tick me"), text("Title Body")),
		},
		{
			name: "unknown containers keep their children",
			card: `{"type":"list","elements":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}`,
			want: vertical(text("one"), text("two")),
		},
		{
			name: "carousel of cards",
			card: `{"type":"carousel","padding":10,"elements":[{"type":"vertical","elements":[{"type":"text","text":"A"}]},{"type":"vertical","elements":[{"type":"text","text":"B"}]}]}`,
			want: &Node{Kind: KindLayout, Layout: Carousel, Choice: -1, Children: []Node{*vertical(text("A")), *vertical(text("B"))}},
		},
		{
			name: "a bare element is wrapped",
			card: `{"type":"text","text":"alone"}`,
			want: vertical(text("alone")),
		},
		{
			name:    "one-element lists sent as the element itself (Protocol Overview)",
			card:    `{"type":"vertical","elements":{"type":"button","title":"Yes","click":{"actions":{"type":"publishText","text":"yes"},"metadata":{"type":"ExternalId","id":"y"}}}}`,
			want:    vertical(Node{Kind: KindButton, Text: "Yes", Choice: 0}),
			choices: []Choice{{Title: "Yes", Text: "yes", Metadata: json.RawMessage(`[{"id":"y","type":"ExternalId"}]`)}},
		},
		{
			name: "an unknown container with one bare child",
			card: `{"type":"list","elements":{"type":"text","text":"one"}}`,
			want: vertical(text("one")),
		},
		{
			name: "button with navigate only is its title",
			card: `{"type":"vertical","elements":[{"type":"button","title":"Directions","click":{"actions":[{"type":"navigate","la":1,"lo":2}]}}]}`,
			want: vertical(text("Directions")),
		},
		{
			name:    "publishText wins over link, metadata not an array of objects is dropped",
			card:    `{"type":"vertical","elements":[{"type":"button","title":"Yes","click":{"actions":[{"type":"link","uri":"https://x.example/"},{"type":"publishText","text":"yes"}],"metadata":"nope"}}]}`,
			want:    vertical(Node{Kind: KindButton, Text: "Yes", Choice: 0}),
			choices: []Choice{{Title: "Yes", Text: "yes"}},
		},
		{
			name: "control and direction characters are removed",
			card: `{"type":"vertical","elements":[{"type":"text","text":"pay\u202egnp.exe\u0000\u0007 ok"}]}`,
			want: vertical(text("paygnp.exe ok")),
		},
		{name: "not JSON", card: `{"type":`},
		{name: "not an object", card: `"<script>"`},
		{name: "empty layout", card: `{"type":"vertical","elements":[]}`},
		{name: "null", card: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(json.RawMessage(tt.card), nil)
			if diff := cmp.Diff(tt.want, got.Card); diff != "" {
				t.Errorf("card (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.choices, got.Choices); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
			checkSafe(t, got)
		})
	}
}

func TestParseQuickReplies(t *testing.T) {
	tests := []struct {
		name string
		qr   string
		want []Choice
		per  int
	}{
		{
			name: "the demo bot's",
			qr: `{"type":"quickReplies","itemsPerRow":8,"replies":[
				{"type":"button","tooltip":"Help","title":"Help","click":{"actions":[{"type":"publishText","text":"help"}],"metadata":[{"type":"ExternalId","id":"help"}]}},
				{"type":"button","title":"Bye","click":{"actions":[{"type":"publishText","text":"bye"}]}}]}`,
			want: []Choice{
				{Title: "Help", Text: "help", Metadata: json.RawMessage(`[{"id":"help","type":"ExternalId"}]`), QuickReply: true},
				{Title: "Bye", Text: "bye", QuickReply: true},
			},
			per: 8,
		},
		{
			name: "replies that publish nothing are dropped; a missing title is the text",
			qr: `{"type":"quickReplies","itemsPerRow":99,"replies":[
				{"type":"button","title":"Go","click":{"actions":[{"type":"link","uri":"javascript:alert(1)"}]}},
				{"type":"button","click":{"actions":[{"type":"publishText","text":"<b>hi</b>"}]}},
				"junk", 7, null]}`,
			want: []Choice{{Title: "<b>hi</b>", Text: "<b>hi</b>", QuickReply: true}},
		},
		{
			name: "a bare array",
			qr:   `[{"type":"button","title":"A","click":{"actions":[{"type":"publishText","text":"a"}]}}]`,
			want: []Choice{{Title: "A", Text: "a", QuickReply: true}},
		},
		{
			name: "one reply sent as the reply itself (Protocol Overview)",
			qr:   `{"type":"quickReplies","itemsPerRow":1,"replies":{"type":"button","title":"Skip","click":{"actions":{"type":"publishText","text":"Skip"}}}}`,
			want: []Choice{{Title: "Skip", Text: "Skip", QuickReply: true}},
			per:  1,
		},
		{name: "garbage", qr: `{"replies":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(nil, json.RawMessage(tt.qr))
			if got.Card != nil {
				t.Errorf("a card from quick replies: %+v", got.Card)
			}
			if diff := cmp.Diff(tt.want, got.Choices); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
			if got.ItemsPerRow != tt.per {
				t.Errorf("itemsPerRow = %d, want %d", got.ItemsPerRow, tt.per)
			}
		})
	}
}

// TestChoiceWith: an ACTION's metadata names the choice that carries it,
// whatever the echo's spelling, and only when no other choice shares it.
func TestChoiceWith(t *testing.T) {
	card := `{"type":"vertical","elements":[
		{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold"}],"metadata":[{"type":"ExternalId","id":"gold"}]}},
		{"type":"button","title":"Silver","click":{"actions":[{"type":"publishText","text":"silver"}],"metadata":[{"type":"ExternalId","id":"silver"}]}},
		{"type":"button","title":"Bronze","click":{"actions":[{"type":"publishText","text":"bronze"}],"metadata":[{"type":"ExternalId","id":"same"}]}},
		{"type":"button","title":"Tin","click":{"actions":[{"type":"publishText","text":"tin"}],"metadata":[{"type":"ExternalId","id":"same"}]}},
		{"type":"button","title":"Plain","click":{"actions":[{"type":"publishText","text":"plain"}]}}]}`
	qr := `[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}],"metadata":[{"type":"ExternalId","id":"qr-yes"}]}}]`
	c := Parse(json.RawMessage(card), json.RawMessage(qr))
	tests := []struct {
		name     string
		metadata string
		want     int
		ok       bool
	}{
		{name: "as published", metadata: `[{"id":"silver","type":"ExternalId"}]`, want: 1, ok: true},
		{name: "another spelling", metadata: ` [ { "type" : "ExternalId", "id" : "gold" } ] `, want: 0, ok: true},
		{name: "a bare object", metadata: `{"type":"ExternalId","id":"gold"}`, want: 0, ok: true},
		{name: "a quick reply", metadata: `[{"type":"ExternalId","id":"qr-yes"}]`, want: 5, ok: true},
		{name: "shared by two choices", metadata: `[{"type":"ExternalId","id":"same"}]`},
		{name: "no choice has it", metadata: `[{"type":"ExternalId","id":"platinum"}]`},
		{name: "none", metadata: ``},
		{name: "null", metadata: `null`},
		{name: "empty objects only", metadata: `[{}]`},
		{name: "not JSON", metadata: `[{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.ChoiceWith(json.RawMessage(tt.metadata))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("ChoiceWith(%s) = %d, %v; want %d, %v", tt.metadata, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestBounds: hostile sizes are cut, never followed.
func TestBounds(t *testing.T) {
	deep := strings.Repeat(`{"type":"vertical","elements":[{"type":"text","text":"level"},`, 500) + `{"type":"text","text":"bottom"}` + strings.Repeat(`]}`, 500)
	got := Parse(json.RawMessage(deep), nil)
	if got.Card == nil {
		t.Fatal("no card from a deep one")
	}
	if d := depth(*got.Card); d > MaxDepth+1 {
		t.Errorf("depth %d, want ≤ %d", d, MaxDepth+1)
	}
	checkSafe(t, got)

	var els []string
	for i := range 5000 {
		els = append(els, fmt.Sprintf(`{"type":"button","title":"b%d","click":{"actions":[{"type":"publishText","text":"t%d"}]}}`, i, i))
	}
	wide := `{"type":"vertical","elements":[` + strings.Join(els, ",") + `]}`
	got = Parse(json.RawMessage(wide), json.RawMessage(`[`+strings.Join(els, ",")+`]`))
	if got.Card != nil && count(*got.Card) > MaxNodes {
		t.Errorf("%d nodes, want ≤ %d", count(*got.Card), MaxNodes)
	}
	if len(got.Choices) > MaxChoices {
		t.Errorf("%d choices, want ≤ %d", len(got.Choices), MaxChoices)
	}

	long := strings.Repeat("x", 10*MaxText)
	got = Parse(json.RawMessage(`{"type":"text","text":"`+long+`"}`), nil)
	if n := len([]rune(got.Card.Children[0].Text)); n > MaxText+1 {
		t.Errorf("text of %d runes, want ≤ %d", n, MaxText+1)
	}

	huge := `{"type":"text","text":"` + strings.Repeat("y", MaxInput) + `"}`
	if got := Parse(json.RawMessage(huge), nil); got.Card != nil {
		t.Errorf("input over %d bytes parsed", MaxInput)
	}

	bigMeta := `[{"type":"button","title":"A","click":{"actions":[{"type":"publishText","text":"a"}],"metadata":[{"type":"ExternalId","id":"` + strings.Repeat("z", MaxMetadata) + `"}]}}]`
	got = Parse(nil, json.RawMessage(bigMeta))
	if len(got.Choices) != 1 || got.Choices[0].Metadata != nil {
		t.Errorf("oversized metadata kept: %+v", got.Choices)
	}
}

func TestText(t *testing.T) {
	card := `{"type":"vertical","elements":[{"type":"text","text":"Pick one"},{"type":"image","url":"https://x.example/y.png","tooltip":"Pic"},{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]}`
	if got, want := Parse(json.RawMessage(card), nil).Text(), "Pick one\nPic\nYes"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestSafeURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"https://example.com/a?b=c#d", "https://example.com/a?b=c#d", true},
		{"HTTPS://Example.com", "https://Example.com", true},
		{"  https://example.com/ ", "https://example.com/", true},
		{"http://example.com/", "", false},
		{"HTTP://Example.com", "", false},
		{"javascript:alert(1)", "", false},
		{"data:image/png;base64,AAAA", "", false},
		{"vbscript:x", "", false},
		{"ftp://example.com/", "", false},
		{"/local", "", false},
		{"//example.com", "", false},
		{"https://", "", false},
		{"https://a b.com/", "", false},
		{"https://a.com/\u0000", "", false},
		{`https:\\evil.example`, "", false},
		{"https://u@example.com/", "", false},
	} {
		got, ok := SafeURL(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SafeURL(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		// An image's URL is checked the same way, plain http aside.
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(tt.in)), "http:") {
			continue
		}
		got, ok = ImageURL(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ImageURL(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPlainHTTP: a link must be https (a plain-http one shows as its
// title); an image may be plain http, left to the web layer, which shows
// it only when it is the window's own.
func TestPlainHTTP(t *testing.T) {
	card := `{"type":"vertical","elements":[
		{"type":"button","title":"Plain link","click":{"actions":[{"type":"link","uri":"http://docs.example/"}]}},
		{"type":"button","title":"Secure link","click":{"actions":[{"type":"link","uri":"https://docs.example/"}]}},
		{"type":"image","url":"HTTP://localhost:8080/static/demo-card.svg","tooltip":"Plain image"}]}`
	want := vertical(
		text("Plain link"),
		Node{Kind: KindLink, Text: "Secure link", URL: "https://docs.example/", Choice: -1},
		Node{Kind: KindImage, URL: "http://localhost:8080/static/demo-card.svg", Alt: "Plain image", Choice: -1},
	)
	if diff := cmp.Diff(want, Parse(json.RawMessage(card), nil).Card); diff != "" {
		t.Errorf("card (-want +got):\n%s", diff)
	}
	for _, in := range []string{"http://example.com/", "HTTP://Example.com", " http://example.com/a "} {
		if got, ok := SafeURL(in); ok {
			t.Errorf("SafeURL(%q) = %q, true; want false", in, got)
		}
		if _, ok := ImageURL(in); !ok {
			t.Errorf("ImageURL(%q) refused", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"type":"vertical","elements":[{"type":"image","url":"data:x"},{"type":"button","title":"t","click":{"actions":[{"type":"link","uri":"javascript:x"}]}}]}`, `[{"title":"a","click":{"actions":[{"type":"publishText","text":"a"}]}}]`)
	f.Add(`{"type":"carousel","elements":[{"type":"vertical","elements":[{"type":"text","text":"x","style":{"bold":true}}]}]}`, `{"replies":[]}`)
	f.Add(`{"type":"button","title":"x","click":{"actions":[{"type":"link","uri":"https://ok.example/"}]}}`, ``)
	f.Fuzz(func(t *testing.T, card, qr string) {
		got := Parse(json.RawMessage(card), json.RawMessage(qr))
		checkSafe(t, got)
		_ = got.Text()
	})
}

// checkSafe: every link is https, every image http(s), every choice index
// is in range, sizes are bounded.
func checkSafe(t *testing.T, c Content) {
	t.Helper()
	if len(c.Choices) > MaxChoices {
		t.Errorf("%d choices", len(c.Choices))
	}
	if c.Card == nil {
		return
	}
	if n := count(*c.Card); n > MaxNodes+1 {
		t.Errorf("%d nodes", n)
	}
	var walk func(n Node, d int)
	walk = func(n Node, d int) {
		if d > MaxDepth+1 {
			t.Errorf("depth %d", d)
			return
		}
		switch n.Kind {
		case KindImage:
			if !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
				t.Errorf("an image with URL %q", n.URL)
			}
			if again, ok := ImageURL(n.URL); !ok || again != n.URL {
				t.Errorf("URL %q is not stable under ImageURL (%q, %v)", n.URL, again, ok)
			}
		case KindLink:
			if !strings.HasPrefix(n.URL, "https://") {
				t.Errorf("a link with URL %q", n.URL)
			}
			if again, ok := SafeURL(n.URL); !ok || again != n.URL {
				t.Errorf("URL %q is not stable under SafeURL (%q, %v)", n.URL, again, ok)
			}
		case KindButton:
			if n.Choice < 0 || n.Choice >= len(c.Choices) {
				t.Errorf("button choice %d of %d", n.Choice, len(c.Choices))
			}
		default:
			if n.URL != "" {
				t.Errorf("a %s with URL %q", n.Kind, n.URL)
			}
		}
		for _, ch := range n.Children {
			walk(ch, d+1)
		}
	}
	walk(*c.Card, 0)
}

func depth(n Node) int {
	d := 0
	for _, c := range n.Children {
		d = max(d, depth(c))
	}
	return d + 1
}

func count(n Node) int {
	k := 1
	for _, c := range n.Children {
		k += count(c)
	}
	return k
}

// Package richcontent turns LivePerson structured content (cards and quick
// replies, sent by agents and bots) into a small typed tree that is safe to
// render: text stays plain text, every link it keeps is https, every image
// URL http or https (the web layer decides how an image is loaded), and its
// size and depth are bounded whatever the sender wrote. What it does
// not understand degrades to the text it carries (docs/richcontent.md).
package richcontent

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"unicode"

	"github.com/chatwindow/chatwindow/internal/bidi"
)

// Limits on what a parse keeps. Input beyond them is cut, never refused:
// the customer still sees as much of the card as is reasonable.
const (
	// MaxInput is the largest structured content parsed (larger: nothing).
	MaxInput = 64 << 10
	// MaxDepth bounds the nesting of layouts; deeper layouts are flattened
	// into the text they carry.
	MaxDepth = 6
	// MaxNodes bounds the nodes of one card.
	MaxNodes = 120
	// MaxChoices bounds the clickable answers of one message (card buttons
	// and quick replies together).
	MaxChoices = 32
	// MaxText bounds every string kept, in runes.
	MaxText = 2000
	// MaxMetadata bounds a click's metadata, encoded, in bytes.
	MaxMetadata = 2048
	// maxActions is LivePerson's own limit of actions per click.
	maxActions = 4
)

// Node kinds.
const (
	KindLayout = "layout" // Children, in Layout's direction
	KindText   = "text"   // Text
	KindImage  = "image"  // URL (http/https, see ImageURL), Alt
	KindLink   = "link"   // Text, URL (https), Link: opens in a new tab
	KindButton = "button" // Text; Choice is what a click answers
)

// Layouts of a KindLayout node.
const (
	Vertical   = "vertical"
	Horizontal = "horizontal"
	Carousel   = "carousel"
)

// Text sizes kept from a text element's style.
const (
	SizeSmall  = "small"
	SizeMedium = "medium"
	SizeLarge  = "large"
)

// Node is one element of a card.
type Node struct {
	Kind     string
	Layout   string
	Children []Node
	// Text is a text's text, a button's or a link's title: plain text.
	Text string
	// URL is an image's source (http or https: ImageURL) or a link's
	// target (https: SafeURL).
	URL string
	// Alt is an image's text alternative (its tooltip or caption).
	Alt string
	// Bold, Italic and Size are the part of a text's style that is kept
	// (colours and the rest are the window's business).
	Bold, Italic bool
	Size         string
	// Choice is a button's index in the message's choices.
	Choice int
	// Link is a link's index in the message's links (Content.Links).
	Link int
}

// Link is what a click on a card's link does besides opening it: the
// customer's client publishes an ACTION receipt of the message with the
// click's metadata (docs/richcontent.md, "A link's click").
type Link struct {
	// URL is the link's target (https: SafeURL).
	URL string
	// Metadata is the click's metadata (a JSON array of objects); nil
	// when the click has none.
	Metadata json.RawMessage
}

// Choice is something the customer can click that answers the agent:
// a card button or a quick reply whose click publishes a text.
type Choice struct {
	Title string
	// Text is what the click publishes as the customer's message.
	Text string
	// Metadata is the click's metadata (a JSON array of objects), sent with
	// the ACTION receipt and the text; nil when the click has none.
	Metadata json.RawMessage
	// QuickReply is set on quick replies (card buttons otherwise).
	QuickReply bool
}

// Content is the structured content of one agent message.
type Content struct {
	// Card is the card of a RichContentEvent; nil when there is none.
	Card *Node
	// Choices are the card's buttons (in document order) and then the
	// quick replies; a button's Node.Choice indexes them.
	Choices []Choice
	// ItemsPerRow is the quick replies' layout hint (0: the window decides).
	ItemsPerRow int
	// Links are the card's links, in document order; a link's Node.Link
	// indexes them.
	Links []Link
}

// Empty reports whether there is nothing to show beyond the message text.
func (c Content) Empty() bool { return c.Card == nil && len(c.Choices) == 0 }

// QuickReplies returns the indexes in Choices of the quick replies.
func (c Content) QuickReplies() []int {
	var out []int
	for i, ch := range c.Choices {
		if ch.QuickReply {
			out = append(out, i)
		}
	}
	return out
}

// ChoiceWith returns the index of the choice whose click carries this
// metadata (an ACTION's, as the service echoes it), when exactly one
// choice does. Choices without metadata, or sharing theirs, cannot be told
// apart that way: false.
func (c Content) ChoiceWith(metadata json.RawMessage) (int, bool) {
	v, ok := decode(metadata)
	if !ok {
		return 0, false
	}
	// The form Parse keeps (keys sorted, empty objects dropped), whatever
	// spacing or key order the service echoes.
	want := metadataOf(v)
	if want == nil {
		return 0, false
	}
	found := -1
	for i, ch := range c.Choices {
		if bytes.Equal(ch.Metadata, want) {
			if found >= 0 {
				return 0, false
			}
			found = i
		}
	}
	return found, found >= 0
}

// LinkClick reports whether an ACTION with this metadata (as the service
// echoes it) may be a click on one of the card's links rather than an
// answer: a link's click carries its own metadata, or none.
func (c Content) LinkClick(metadata json.RawMessage) bool {
	var want json.RawMessage
	if v, ok := decode(metadata); ok {
		want = metadataOf(v)
	}
	for _, l := range c.Links {
		if bytes.Equal(l.Metadata, want) {
			return true
		}
	}
	return false
}

// Parse reads a RichContentEvent's card (nil for none) and a message's
// quickReplies (nil for none). It never fails: what cannot be understood
// is dropped or shown as its text.
func Parse(card, quickReplies json.RawMessage) Content {
	p := &parser{}
	var c Content
	if v, ok := decode(card); ok {
		n := p.node(v, 0)
		if n != nil {
			if n.Kind != KindLayout {
				n = &Node{Kind: KindLayout, Layout: Vertical, Children: []Node{*n}, Choice: -1}
			}
			c.Card = n
		}
	}
	if v, ok := decode(quickReplies); ok {
		c.ItemsPerRow = p.quickReplies(v)
	}
	c.Choices = p.choices
	c.Links = p.links
	return c
}

// Text is the readable text of the content: every text, title and
// alternative of the card in document order, one a line, then the quick
// replies' titles. It is the message's fallback text (logs, the agent's
// side, screen-reader announcements).
func (c Content) Text() string {
	var parts []string
	var walk func(n Node)
	walk = func(n Node) {
		switch n.Kind {
		case KindLayout:
			for _, ch := range n.Children {
				walk(ch)
			}
		case KindImage:
			if n.Alt != "" {
				parts = append(parts, n.Alt)
			}
		default:
			if n.Text != "" {
				parts = append(parts, n.Text)
			}
		}
	}
	if c.Card != nil {
		walk(*c.Card)
	}
	return strings.Join(parts, "\n")
}

// decode reads bounded JSON into generic values.
func decode(b json.RawMessage) (any, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > MaxInput || bytes.Equal(b, []byte("null")) {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, false
	}
	return v, true
}

type parser struct {
	nodes   int
	choices []Choice
	links   []Link
}

// node converts one element; nil when it carries nothing to show.
func (p *parser) node(v any, depth int) *Node {
	if p.nodes >= MaxNodes {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	typ := strings.ToLower(str(obj, "type"))
	if depth >= MaxDepth {
		// Too deep: whatever text is below, flattened, bounded.
		return p.textNode(flatText(obj, MaxDepth))
	}
	switch typ {
	case Vertical, Horizontal, Carousel:
		return p.layout(typ, obj, depth)
	case "text":
		n := p.textNode(firstText(obj, "text", "tooltip"))
		if n != nil {
			if st, ok := obj["style"].(map[string]any); ok {
				n.Bold, _ = st["bold"].(bool)
				n.Italic, _ = st["italic"].(bool)
				switch s := strings.ToLower(str(st, "size")); s {
				case SizeSmall, SizeMedium, SizeLarge:
					n.Size = s
				}
			}
		}
		return n
	case "image":
		alt := firstText(obj, "tooltip", "caption", "alt")
		if u, ok := ImageURL(str(obj, "url")); ok {
			p.nodes++
			return &Node{Kind: KindImage, URL: u, Alt: alt, Choice: -1}
		}
		return p.textNode(alt)
	case "button":
		return p.button(obj)
	}
	// Unknown: a container keeps its children (as a vertical layout), the
	// rest shows its title and text.
	if _, ok := listOf(obj["elements"]); ok {
		return p.layout(Vertical, obj, depth)
	}
	return p.textNode(joinNonEmpty(firstText(obj, "title"), firstText(obj, "text")))
}

func (p *parser) layout(typ string, obj map[string]any, depth int) *Node {
	els, _ := listOf(obj["elements"])
	p.nodes++
	n := &Node{Kind: KindLayout, Layout: typ, Choice: -1}
	for _, e := range els {
		if p.nodes >= MaxNodes {
			break
		}
		if c := p.node(e, depth+1); c != nil {
			n.Children = append(n.Children, *c)
		}
	}
	if len(n.Children) == 0 {
		return nil
	}
	return n
}

func (p *parser) textNode(s string) *Node {
	if s == "" || p.nodes >= MaxNodes {
		return nil
	}
	p.nodes++
	return &Node{Kind: KindText, Text: s, Choice: -1}
}

// button is a choice when its click publishes text, a link when it opens
// an https URL, and its title as text otherwise.
func (p *parser) button(obj map[string]any) *Node {
	title := firstText(obj, "title", "tooltip")
	publish, link, meta := clickOf(obj)
	if title == "" {
		title = publish
	}
	if title == "" {
		return nil
	}
	if publish != "" {
		if i, ok := p.addChoice(Choice{Title: title, Text: publish, Metadata: meta}); ok {
			p.nodes++
			return &Node{Kind: KindButton, Text: title, Choice: i}
		}
	}
	if link != "" {
		p.nodes++
		p.links = append(p.links, Link{URL: link, Metadata: meta})
		return &Node{Kind: KindLink, Text: title, URL: link, Choice: -1, Link: len(p.links) - 1}
	}
	return p.textNode(title)
}

func (p *parser) addChoice(c Choice) (int, bool) {
	if len(p.choices) >= MaxChoices {
		return 0, false
	}
	p.choices = append(p.choices, c)
	return len(p.choices) - 1, true
}

// quickReplies reads {"type":"quickReplies","itemsPerRow":n,"replies":[…]}
// (or a bare array of replies). Only replies that publish text are kept.
func (p *parser) quickReplies(v any) int {
	var replies []any
	per := 0
	switch t := v.(type) {
	case map[string]any:
		replies, _ = listOf(t["replies"])
		if f, ok := t["itemsPerRow"].(float64); ok && f >= 1 && f <= 24 {
			per = int(f)
		}
	case []any:
		replies = t
	}
	for _, r := range replies {
		obj, ok := r.(map[string]any)
		if !ok {
			continue
		}
		title := firstText(obj, "title", "tooltip")
		publish, _, meta := clickOf(obj)
		if publish == "" {
			continue
		}
		if title == "" {
			title = publish
		}
		if _, ok := p.addChoice(Choice{Title: title, Text: publish, Metadata: meta, QuickReply: true}); !ok {
			break
		}
	}
	return per
}

// clickOf reads a click: the first publishText's text, the first safe
// link's URL, and the metadata.
func clickOf(obj map[string]any) (publish, link string, meta json.RawMessage) {
	click, ok := obj["click"].(map[string]any)
	if !ok {
		return "", "", nil
	}
	actions, _ := listOf(click["actions"])
	if len(actions) > maxActions {
		actions = actions[:maxActions]
	}
	for _, a := range actions {
		act, ok := a.(map[string]any)
		if !ok {
			continue
		}
		switch strings.ToLower(str(act, "type")) {
		case "publishtext":
			if publish == "" {
				publish = clean(str(act, "text"))
			}
		case "link":
			if link == "" {
				if u, ok := SafeURL(str(act, "uri")); ok {
					link = u
				}
			}
		}
	}
	return publish, link, metadataOf(click["metadata"])
}

// metadataOf keeps a click's metadata when it is an array of objects that
// encodes within MaxMetadata; the service gets it as the request's
// metadata, so nothing else is passed on.
func metadataOf(v any) json.RawMessage {
	arr, ok := listOf(v)
	if !ok {
		return nil
	}
	var keep []any
	for _, e := range arr {
		if obj, ok := e.(map[string]any); ok && len(obj) > 0 {
			keep = append(keep, obj)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	b, err := json.Marshal(keep)
	if err != nil || len(b) > MaxMetadata {
		return nil
	}
	return b
}

// listOf reads a list of objects: an array, or one object sent bare for a
// one-element array (Protocol Overview, "Single Element Arrays";
// docs/protocol.md, Frames). ok is false for anything else.
func listOf(v any) (list []any, ok bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case map[string]any:
		return []any{t}, true
	}
	return nil, false
}

// SafeURL returns u normalised when it is an absolute https URL with a
// host and no credentials, and false for anything else (plain http,
// javascript:, data:, vbscript:, relative, protocol-relative, control
// characters). It is a link's check: a plain-http link would send the
// customer where anyone on the way can read and rewrite the page.
func SafeURL(u string) (string, bool) { return safeURL(u, false) }

// ImageURL is SafeURL that also keeps plain http. An image's URL never
// reaches the page as it is: the web layer shows the window's own assets
// (which a developer's window serves over plain http) from its own origin
// and loads every other image through its image proxy, https only
// (docs/richcontent.md).
func ImageURL(u string) (string, bool) { return safeURL(u, true) }

// safeURL is SafeURL, with plain http when plain is set.
func safeURL(u string, plain bool) (string, bool) {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > 2048 {
		return "", false
	}
	for _, r := range u {
		if r < 0x21 || r == 0x7f || unicode.IsSpace(r) || r == '\\' {
			return "", false
		}
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	scheme := strings.ToLower(parsed.Scheme)
	if scheme != "https" && (!plain || scheme != "http") {
		return "", false
	}
	if parsed.Host == "" || parsed.User != nil || parsed.Opaque != "" || parsed.Hostname() == "" {
		return "", false
	}
	parsed.Scheme = scheme
	out := parsed.String()
	// Paranoia: what goes out must still start with the scheme it was
	// checked for.
	if !strings.HasPrefix(out, scheme+"://") {
		return "", false
	}
	return out, true
}

func str(obj map[string]any, key string) string {
	s, _ := obj[key].(string)
	return s
}

// firstText is the first non-empty string among keys, cleaned.
func firstText(obj map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := clean(str(obj, k)); s != "" {
			return s
		}
	}
	return ""
}

// flatText collects titles and texts below obj, bounded in depth and size.
func flatText(v any, depth int) string {
	var parts []string
	size := 0
	var walk func(v any, d int)
	walk = func(v any, d int) {
		if d > 2*MaxDepth || size > MaxText {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for _, k := range []string{"title", "text"} {
				if s := clean(str(t, k)); s != "" {
					parts = append(parts, s)
					size += len(s)
				}
			}
			if els, ok := listOf(t["elements"]); ok {
				walk(els, d+1)
			}
		case []any:
			for i, e := range t {
				if i >= MaxNodes {
					break
				}
				walk(e, d+1)
			}
		}
	}
	walk(v, 0)
	return clean(strings.Join(parts, " "))
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	}
	return a + " " + b
}

// clean makes s valid UTF-8 without control characters (newlines and tabs
// kept) or explicit direction controls (bidi.IsControl: they could make a
// title read differently from what it is), trimmed and cut to MaxText
// runes.
func clean(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= MaxText {
			b.WriteRune('…')
			break
		}
		if r == '\n' || r == '\t' {
			b.WriteRune(r)
		} else if unicode.IsControl(r) || bidi.IsControl(r) {
			continue
		} else {
			b.WriteRune(r)
		}
		n++
	}
	return strings.TrimSpace(b.String())
}

package demobot

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// reply is what the bot says to one message: events published in order,
// and whether it then closes the conversation.
type reply struct {
	events []protocol.Event
	close  bool
}

// Texts of the bot. Tests look for these.
const (
	GreetingText = "Hi, I'm the demo bot. No person was free, so I'm answering. Type \"help\" to see what I can do."
	HelpText     = "I'm only a demo, but I can: show a card (\"card\"), tell the opening hours (\"hours\"), talk prices (\"price\") and end the chat (\"bye\")."
	HoursText    = "We're open Monday to Friday, 9:00 to 17:00. (This is a demo: nobody is really there.)"
	PriceText    = "Everything in this demo is free. A real brand would quote its prices here."
	GoodbyeText  = "Goodbye! I'm closing this conversation now. Thanks for trying chatwindow."
)

// keywords in the order they win when a message holds several.
var keywords = []string{"bye", "close", "card", "help", "hours", "price"}

// maxEcho bounds the part of the customer's text the bot repeats.
const maxEcho = 200

// answer picks the reply to a customer's text: the first keyword it holds
// as a word (case-insensitive), else an echo that names the keywords.
func answer(text string, cfg Config) reply {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		words[w] = true
	}
	kw := ""
	for _, k := range keywords {
		if words[k] {
			kw = k
			break
		}
	}
	switch kw {
	case "bye", "close":
		return reply{events: []protocol.Event{textEvent(GoodbyeText, nil)}, close: true}
	case "card":
		return reply{events: []protocol.Event{{Type: protocol.EventRichContent, Content: card(cfg)}}}
	case "help":
		return reply{events: []protocol.Event{textEvent(HelpText, quickReplies())}}
	case "hours":
		return reply{events: []protocol.Event{textEvent(HoursText, nil)}}
	case "price":
		return reply{events: []protocol.Event{textEvent(PriceText, nil)}}
	}
	return reply{events: []protocol.Event{textEvent(echo(text), quickReplies())}}
}

// echo answers a text without a keyword.
func echo(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > maxEcho {
		text = string(r[:maxEcho]) + "…"
	}
	return fmt.Sprintf("You said %q. I only understand a few words: help, card, hours, price and bye.", text)
}

// greeting is the bot's first message, with quick replies.
func greeting() reply {
	return reply{events: []protocol.Event{textEvent(GreetingText, quickReplies())}}
}

func textEvent(text string, qr json.RawMessage) protocol.Event {
	return protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text, QuickReplies: qr}
}

// LivePerson's structured content, as much of it as the bot uses.
type (
	quickReplySet struct {
		Type        string   `json:"type"`
		ItemsPerRow int      `json:"itemsPerRow"`
		Replies     []button `json:"replies"`
	}
	button struct {
		Type    string `json:"type"`
		Tooltip string `json:"tooltip,omitempty"`
		Title   string `json:"title"`
		Click   click  `json:"click"`
	}
	click struct {
		Actions  []action   `json:"actions"`
		Metadata []metadata `json:"metadata,omitempty"`
	}
	action struct {
		Type string `json:"type"`
		Text string `json:"text,omitempty"` // publishText
		Name string `json:"name,omitempty"` // link
		URI  string `json:"uri,omitempty"`  // link
	}
	metadata struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	layout struct {
		Type     string    `json:"type"`
		Elements []element `json:"elements"`
	}
	// element is a text, image or button of a layout.
	element struct {
		Type    string `json:"type"`
		Text    string `json:"text,omitempty"`
		URL     string `json:"url,omitempty"`
		Tooltip string `json:"tooltip,omitempty"`
		Title   string `json:"title,omitempty"`
		Style   *style `json:"style,omitempty"`
		Click   *click `json:"click,omitempty"`
	}
	style struct {
		Bold bool   `json:"bold,omitempty"`
		Size string `json:"size,omitempty"`
	}
)

// publishText is a button that sends text on the customer's behalf.
func publishText(title, text string) button {
	return button{
		Type: "button", Tooltip: title, Title: title,
		Click: click{
			Actions:  []action{{Type: "publishText", Text: text}},
			Metadata: []metadata{{Type: "ExternalId", ID: text}},
		},
	}
}

// quickReplies are the bot's suggestions under a message.
func quickReplies() json.RawMessage {
	qr := quickReplySet{Type: "quickReplies", ItemsPerRow: 8}
	for _, k := range []struct{ title, text string }{
		{"Help", "help"}, {"Show a card", "card"}, {"Opening hours", "hours"}, {"Prices", "price"}, {"Bye", "bye"},
	} {
		qr.Replies = append(qr.Replies, publishText(k.title, k.text))
	}
	return mustJSON(qr)
}

// card is the structured-content card: a vertical layout of a title, an
// image, a text, a link button and a button that answers "hours".
func card(cfg Config) json.RawMessage {
	hours := publishText("Opening hours", "hours")
	return mustJSON(layout{
		Type: "vertical",
		Elements: []element{
			{Type: "text", Text: "chatwindow demo card", Tooltip: "chatwindow demo card", Style: &style{Bold: true, Size: "large"}},
			{Type: "image", URL: cfg.CardImageURL, Tooltip: "A demo image"},
			{Type: "text", Text: "This card is LivePerson structured content, sent by the demo bot.", Tooltip: "About this card"},
			{Type: "button", Title: "Read the docs", Tooltip: "Open LivePerson's developer docs", Click: &click{
				Actions: []action{{Type: "link", Name: "Read the docs", URI: cfg.CardLinkURL}},
			}},
			{Type: "button", Title: hours.Title, Tooltip: hours.Tooltip, Click: &hours.Click},
		},
	})
}

// mustJSON encodes values built above from fixed types; it cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("demobot: encode structured content: %v", err))
	}
	return b
}

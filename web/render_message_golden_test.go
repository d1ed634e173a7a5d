package web_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// goldenCase is one rendering TestRenderGolden locks.
type goldenCase = struct {
	name   string
	render func() ([]byte, error)
}

// messageGoldens are the bubbles a socket frame carries, in every form a
// writer of them could get wrong: text to escape (markup, quotes, a
// javascript: text, bytes that are not UTF-8), links, right-to-left text
// in a right-to-left window, each receipt state with and without its
// time, bubbles appended and swapped out of band, with and without a
// sequence, with times absent or odd, quick replies, files, an image and
// a card.
func messageGoldens(t *testing.T, r relay.Renderer) []goldenCase {
	at := time.UnixMilli(1_700_000_000_000)
	later := at.Add(90 * time.Second)
	msg := func(key, from, text string, mod func(*relay.Message)) relay.Message {
		m := relay.Message{Message: transcript.Message{Key: key, DialogID: benchConv, Seq: 7, HasSeq: true, Text: text, At: at}, From: from}
		if from == relay.FromConsumer {
			m.Own = true
		}
		if mod != nil {
			mod(&m)
		}
		return m
	}
	receipt := func(state string, with func(*relay.Message)) func(*relay.Message) {
		return func(m *relay.Message) {
			m.Delivery = state
			if with != nil {
				with(m)
			}
		}
	}
	noSeq := func(m *relay.Message) { m.Seq, m.HasSeq, m.LocalID = 0, false, "local-\"<&>'" }
	receipts := []relay.Message{
		msg("l-1", relay.FromConsumer, "pending", receipt(relay.ReceiptPending, noSeq)),
		msg("m-s", relay.FromConsumer, "sent", receipt(relay.ReceiptSent, func(m *relay.Message) { m.SentAt = at })),
		msg("m-a", relay.FromConsumer, "accepted", receipt(relay.ReceiptAccepted, func(m *relay.Message) { m.AcceptedAt = later })),
		msg("m-a0", relay.FromConsumer, "accepted, no time", receipt(relay.ReceiptAccepted, nil)),
		msg("m-r", relay.FromConsumer, "read", receipt(relay.ReceiptRead, func(m *relay.Message) { m.AcceptedAt, m.ReadAt = at, later })),
		msg("m-r0", relay.FromConsumer, "read, no time", receipt(relay.ReceiptRead, nil)),
		msg("l-2", relay.FromConsumer, "failed", receipt(relay.ReceiptFailed, noSeq)),
		msg("m-f", relay.FromConsumer, "failed after its sequence", receipt(relay.ReceiptFailed, func(m *relay.Message) { m.LocalID = "9" })),
	}
	view := func(mod func(*relay.View)) relay.View {
		v := relay.View{Connection: messaging.StateOpen, Phase: relay.PhaseOpen, AgentName: "Alice"}
		if mod != nil {
			mod(&v)
		}
		return v
	}
	change := func(v relay.View, ch relay.Change) func() ([]byte, error) {
		return func() ([]byte, error) { return r.Change(v, ch) }
	}
	rich := func(card, replies any) richcontent.Content {
		mk := func(v any) json.RawMessage {
			if v == nil {
				return nil
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return richcontent.Parse(mk(card), mk(replies))
	}
	replies := []any{
		map[string]any{"type": "button", "title": "Yes <please>", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": `yes "really"`}}}},
		map[string]any{"type": "button", "title": "No", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "no"}}}},
	}
	card := map[string]any{"type": "vertical", "elements": []any{
		map[string]any{"type": "text", "text": "Your order & more", "style": map[string]any{"bold": true}},
		map[string]any{"type": "image", "url": "https://img.example/a.png", "tooltip": "a parcel"},
		map[string]any{"type": "button", "title": "Track it", "click": map[string]any{"actions": []any{map[string]any{"type": "link", "uri": "https://track.example/?id=1&x=2", "name": "track"}}}},
		map[string]any{"type": "button", "title": "Thanks", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "thanks"}}}},
	}}
	withReplies := func(m *relay.Message) { m.Rich, m.RepliesOpen = rich(nil, replies), true }

	return []goldenCase{
		{"message-escaping", change(view(nil), relay.Change{Added: []relay.Message{
			msg("m-e1", relay.FromAgent, `1 < 2 && 3 > 2, "quoted" and 'single' &amp; &lt;b&gt;`, nil),
			msg("m-e2", relay.FromAgent, "javascript:alert(document.cookie) and JAVASCRIPT:alert(1)", nil),
			msg("m-e3", relay.FromConsumer, "nul \x00, not UTF-8 \xff\xfe, lines\r\nand\ttabs, 🎉 e\u0301", receipt(relay.ReceiptRead, func(m *relay.Message) { m.ReadAt = later })),
			msg(`m-"id"<&>`, "system", `<b>bold</b>`, func(m *relay.Message) { m.DialogID, m.Seq = `d"<'&>`, -3 }),
			msg("m-e5", relay.FromAgent, "", func(m *relay.Message) { m.Seq = 1<<63 - 1 }),
		}, Announce: `New message <b>&</b> "more"`})},
		{"message-links", change(view(nil), relay.Change{Added: []relay.Message{
			msg("m-l1", relay.FromAgent, `HTTPS://Example.COM/A?b=1&c='x'"y" at the start; then http://a.example,http://b.example; and <http://c.example/<script>>`, nil),
			msg("m-l2", relay.FromAgent, "javascript:alert(1) https://ok.example/ javascript://x.example/%0aalert(1)", nil),
			msg("m-l3", relay.FromConsumer, "mine: https://docs.example/path_(1)#frag", receipt(relay.ReceiptSent, nil)),
			msg("m-l4", relay.FromAgent, "at the end http://end.example", nil),
		}})},
		{"message-rtl", change(view(func(v *relay.View) { v.UI, v.Typing = "he", true }), relay.Change{
			Added: []relay.Message{
				msg("m-h1", relay.FromAgent, "שלום! איך אפשר לעזור? https://example.co.il/עברית", nil),
				msg("m-h2", relay.FromConsumer, "אני רוצה לשנות כתובת \u202Egnp.exe", receipt(relay.ReceiptRead, func(m *relay.Message) { m.ReadAt = later })),
				msg("l-h3", relay.FromConsumer, "לא נשלח", receipt(relay.ReceiptFailed, noSeq)),
			},
			Updated:  []relay.Message{msg("m-h4", relay.FromAgent, "עם תשובות", withReplies)},
			Typing:   true,
			Announce: "New message",
		})},
		{"message-receipts-oob", change(view(nil), relay.Change{Updated: receipts, Announce: "Read"})},
		{"message-receipts-added", change(view(nil), relay.Change{Added: receipts, Typing: true})},
		{"message-times", change(view(nil), relay.Change{Updated: []relay.Message{
			msg("m-t1", relay.FromAgent, "no time", func(m *relay.Message) { m.At = time.Time{} }),
			msg("m-t2", relay.FromAgent, "the epoch", func(m *relay.Message) { m.At = time.UnixMilli(0) }),
			msg("m-t3", relay.FromAgent, "another zone, milliseconds", func(m *relay.Message) {
				m.At = time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.FixedZone("IST", 5*3600+1800))
			}),
			msg("m-t4", relay.FromAgent, "year 10000", func(m *relay.Message) { m.At = time.Date(10000, 1, 2, 3, 4, 5, 0, time.UTC) }),
			msg("m-t5", relay.FromAgent, "year -1", func(m *relay.Message) { m.At = time.Date(-1, 12, 31, 13, 14, 0, 0, time.UTC) }),
			msg("m-t6", relay.FromAgent, "year 999", func(m *relay.Message) { m.At = time.Date(999, 6, 7, 8, 9, 10, 0, time.UTC) }),
			msg("m-t7", relay.FromConsumer, "no time, read at an odd time", receipt(relay.ReceiptRead, func(m *relay.Message) {
				m.At, m.ReadAt = time.Time{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			})),
		}})},
		{"message-quick-replies", change(view(nil), relay.Change{
			Added: []relay.Message{
				msg("m-q1", relay.FromAgent, "With a sequence", withReplies),
				msg("m-q2", relay.FromAgent, "Without one", func(m *relay.Message) { withReplies(m); m.HasSeq, m.Seq = false, 0 }),
				msg("m-q3", relay.FromAgent, "Closed", func(m *relay.Message) { withReplies(m); m.RepliesOpen = false }),
			},
			Updated: []relay.Message{msg("m-q4", relay.FromAgent, "Answered", func(m *relay.Message) {
				withReplies(m)
				m.Answered, m.Chosen = true, 1
			})},
		})},
		{"message-files", change(view(nil), relay.Change{
			Added: []relay.Message{
				msg("m-f1", relay.FromAgent, "a.pdf", func(m *relay.Message) {
					m.File = &relay.File{Caption: `the "terms" <b>`, FileType: "PDF", RelativePath: "/v1/AUTH_async-images/1/a b&c.PDF"}
				}),
				msg("m-f2", relay.FromConsumer, "", receipt(relay.ReceiptRead, func(m *relay.Message) {
					m.ReadAt = later
					m.File = &relay.File{FileType: "PNG", RelativePath: "/v1/AUTH_async-images/1/b.png", Preview: "data:image/png;base64,iVBORw0KGgo="}
				})),
			},
			Updated: []relay.Message{msg("m-f3", relay.FromAgent, "", func(m *relay.Message) {
				m.File = &relay.File{Caption: "photo", FileType: "JPG", RelativePath: "/v1/AUTH_async-images/1/c.jpg"}
			})},
		})},
		{"message-card", change(view(nil), relay.Change{
			Added: []relay.Message{msg("m-c1", relay.FromAgent, "", func(m *relay.Message) {
				m.Rich, m.RepliesOpen = rich(card, replies), true
				m.Text = m.Rich.Text()
			})},
			Updated: []relay.Message{msg("m-c2", relay.FromAgent, "", func(m *relay.Message) {
				m.Rich, m.Answered, m.Chosen = rich(card, nil), true, 1
				m.Text = m.Rich.Text()
			})},
		})},
	}
}

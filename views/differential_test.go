package views

// TEMPORARY: the hand-written fragments against the templ components they
// replace, while both exist.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

type fakeTr struct{}

func (fakeTr) T(s string) string         { return "«" + s + "» <&'\">" }
func (fakeTr) Sentences(s string) string { return "[" + s + "]" }

// refClock is web.Clock as it was.
func refClock(t time.Time) (text, iso string) {
	if t.IsZero() || t.UnixMilli() == 0 {
		return "", ""
	}
	t = t.UTC()
	iso = t.Format(time.RFC3339)
	if len(iso) == len("2006-01-02T15:04:05Z") && iso[10] == 'T' {
		return iso[11:16], iso
	}
	return t.Format("15:04"), iso
}

var pieces = []string{"a", " ", "<", ">", "&", "'", "\"", "é", "שלום", "\u202E", "\x00", "\xff", "\xe2\x82", "javascript:", "JavaScript:alert(1)", "http://x.example/?a=1&b='2'", "https:", "mailto:a@b", "/x:y", "tel:1", "ftp://f", "data:text/html,<b>", "&amp;", "\n", "🎉"}

func randText(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(12) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.UnixMilli(0)
	case 2:
		return time.Date(10000+r.IntN(5), 1, 2, 3, 4, 5, 0, time.UTC)
	case 3:
		return time.Date(-r.IntN(3), 1, 2, 3, 4, 5, 0, time.FixedZone("x", r.IntN(50000)-25000))
	}
	return time.UnixMilli(r.Int64N(1 << 45)).In(time.FixedZone("x", r.IntN(50000)-25000))
}

var receipts = []string{"", "pending", "sent", "accepted", "read", "failed", "other<&>"}

func randMessage(r *rand.Rand) Message {
	m := Message{
		ID: randText(r), DialogID: randText(r), Seq: r.Int64() - r.Int64(), HasSeq: r.IntN(2) == 0,
		From: []string{"agent", "consumer", "system", randText(r)}[r.IntN(4)], Text: randText(r),
		At: randTime(r), Receipt: receipts[r.IntN(len(receipts))], ReceiptLabel: randText(r), ReceiptAt: randTime(r),
		LocalID: randText(r),
	}
	m.Time, m.TimeISO = refClock(m.At)
	m.ReceiptTime, m.ReceiptTimeISO = refClock(m.ReceiptAt)
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(4) {
			p := TextPart{Text: randText(r)}
			if r.IntN(2) == 0 {
				p.URL = randText(r)
			}
			m.Parts = append(m.Parts, p)
		}
	}
	switch r.IntN(8) {
	case 0:
		m.File = &File{Caption: randText(r), Type: "PNG", URL: "/file?p=" + randText(r), Name: randText(r), Image: r.IntN(2) == 0, ViewURL: randText(r)}
	case 1:
		m.Card = &CardNode{Kind: "text", Text: randText(r)}
	}
	if r.IntN(3) == 0 {
		m.QuickReplies = []Choice{{Index: 0, Title: randText(r), Text: randText(r)}}
	}
	return m
}

func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		ctx := context.Background()
		if i%2 == 0 {
			ctx = WithTranslator(ctx, fakeTr{})
		}
		m := randMessage(r)
		oob := r.IntN(2) == 0
		var want bytes.Buffer
		if err := oldMessageItem(m, oob).Render(ctx, &want); err != nil {
			t.Fatal(err)
		}
		got, err := AppendMessageItem(ctx, []byte("prefix"), m, oob)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+want.String() {
			t.Fatalf("message %+v oob %v:\nwant %q\ngot  %q", m, oob, want.String(), got[6:])
		}
		var viaComp bytes.Buffer
		if err := MessageItem(m, oob).Render(ctx, &viaComp); err != nil || viaComp.String() != want.String() {
			t.Fatalf("component: %v %q", err, viaComp.String())
		}
		ms := []Message{m, randMessage(r)}
		ms[1].Time, ms[1].TimeISO = refClock(ms[1].At)
		ms[1].ReceiptTime, ms[1].ReceiptTimeISO = refClock(ms[1].ReceiptAt)
		want.Reset()
		if err := oldAppendMessages(ms).Render(ctx, &want); err != nil {
			t.Fatal(err)
		}
		got, _ = AppendNewMessages(ctx, nil, func(yield func(Message) bool) {
			for _, m := range ms {
				if !yield(m) {
					return
				}
			}
		})
		if string(got) != want.String() {
			t.Fatalf("append:\nwant %q\ngot  %q", want.String(), got)
		}
		on := r.IntN(2) == 0
		for _, pair := range [][2]func() (string, string){
			{func() (string, string) {
				var w bytes.Buffer
				_ = oldTyping(on, oob).Render(ctx, &w)
				var c bytes.Buffer
				_ = Typing(on, oob).Render(ctx, &c)
				return w.String(), string(AppendTyping(ctx, nil, on, oob)) + "|" + c.String()
			}},
			{func() (string, string) {
				text := randText(r)
				var w bytes.Buffer
				_ = oldAnnounce(text).Render(ctx, &w)
				var c bytes.Buffer
				_ = Announce(text).Render(ctx, &c)
				return w.String(), string(AppendAnnounce(ctx, nil, text)) + "|" + c.String()
			}},
		} {
			w, g := pair[0]()
			if g != w+"|"+w {
				t.Fatalf("want %q got %q", w, g)
			}
		}
		text, iso := Clock(m.At)
		if rt, ri := refClock(m.At); rt != text || ri != iso {
			t.Fatalf("Clock(%v) = %q %q, want %q %q", m.At, text, iso, rt, ri)
		}
	}
}

func FuzzDifferential(f *testing.F) {
	f.Add("a<b", "id\"", "d'", "agent", "accepted", "Delivered", "l&", int64(3), uint8(7), int64(1_700_000_000_000), int64(1_700_000_090_000), "http://x/?a&b", "x")
	f.Fuzz(func(t *testing.T, text, id, dialog, from, receipt, label, local string, seq int64, flags uint8, at, rat int64, url, ptext string) {
		m := Message{ID: id, DialogID: dialog, From: from, Text: text, Receipt: receipt, ReceiptLabel: label, LocalID: local, Seq: seq, HasSeq: flags&1 != 0,
			At: time.UnixMilli(at), ReceiptAt: time.UnixMilli(rat)}
		if flags&4 != 0 {
			m.Parts = []TextPart{{Text: text}, {Text: ptext, URL: url}, {Text: ptext}}
		}
		if flags&8 != 0 {
			m.QuickReplies = []Choice{{Title: ptext, Text: text}}
		}
		m.Time, m.TimeISO = refClock(m.At)
		m.ReceiptTime, m.ReceiptTimeISO = refClock(m.ReceiptAt)
		ctx := context.Background()
		if flags&16 != 0 {
			ctx = WithTranslator(ctx, fakeTr{})
		}
		oob := flags&2 != 0
		var want bytes.Buffer
		if err := oldMessageItem(m, oob).Render(ctx, &want); err != nil {
			t.Fatal(err)
		}
		got, err := AppendMessageItem(ctx, nil, m, oob)
		if err != nil || string(got) != want.String() {
			t.Fatalf("%v\nwant %q\ngot  %q", err, want.String(), got)
		}
	})
}

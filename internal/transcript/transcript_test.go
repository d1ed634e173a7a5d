package transcript

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type tr = Transcript[Message, *Message]

const dialog = "C1"

func ms(n int64) time.Time { return time.UnixMilli(n) }

// stored adds the event of a stored message of dialog C1 at ts ms.
func stored(t *tr, seq int64, own bool, text string, ts int64) Placed {
	_, p := t.Add(Message{DialogID: dialog, Seq: seq, Own: own, Text: text, At: ms(ts)})
	return p
}

func sending(t *tr, localID, text string) {
	t.Sending(Message{LocalID: localID, Text: text, At: ms(1)})
}

func accept(t *tr, ts int64, seqs ...int64) { t.Receipt(dialog, seqs, false, ms(ts)) }
func read(t *tr, ts int64, seqs ...int64)   { t.Receipt(dialog, seqs, true, ms(ts)) }

// row is what a test compares of a message; times in ms (0: none).
type row struct {
	Key      string
	Seq      int64
	Own      bool
	Text     string
	Delivery string
	Sent     int64
	Accepted int64
	Read     int64
}

func rows(t *tr) []row {
	milli := func(x time.Time) int64 {
		if x.IsZero() {
			return 0
		}
		return x.UnixMilli()
	}
	var out []row
	for _, m := range t.Messages() {
		out = append(out, row{m.Key, m.Seq, m.Own, m.Text, m.Delivery, milli(m.SentAt), milli(m.AcceptedAt), milli(m.ReadAt)})
	}
	return out
}

func TestTranscript(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *tr)
		want  []row
	}{
		{
			name:  "the other side's message has no delivery state",
			steps: func(t *tr) { stored(t, 0, false, "hi", 1000) },
			want:  []row{{Key: "m-C1-0", Text: "hi"}},
		},
		{
			name:  "an own stored message is sent at its server time",
			steps: func(t *tr) { stored(t, 0, true, "hi", 1000) },
			want:  []row{{Key: "m-C1-0", Own: true, Text: "hi", Delivery: Sent, Sent: 1000}},
		},
		{
			name: "an own attachment is never the echo of a local text",
			steps: func(t *tr) {
				sending(t, "a", "invoice.png")
				t.Add(Message{DialogID: dialog, Seq: 0, Own: true, Text: "invoice.png", At: ms(1000), Attachment: true})
			},
			want: []row{
				{Key: "m-C1-0", Own: true, Text: "invoice.png", Delivery: Sent, Sent: 1000},
				{Key: "l-a", Own: true, Text: "invoice.png", Delivery: Pending},
			},
		},
		{
			name: "an own attachment's echo is the local attachment with its Ref",
			steps: func(t *tr) {
				sending(t, "a", "photo.png")
				t.Sending(Message{LocalID: "b", Text: "photo.png", At: ms(1), Attachment: true, Ref: "/p/2.PNG"})
				t.Sending(Message{LocalID: "c", Text: "photo.png", At: ms(1), Attachment: true, Ref: "/p/3.PNG"})
				t.Add(Message{DialogID: dialog, Seq: 0, Own: true, Text: "photo.png", At: ms(1000), Attachment: true, Ref: "/p/3.PNG"})
				t.Sent("c", dialog, 0, ms(1100))
			},
			want: []row{
				{Key: "l-c", Seq: 0, Own: true, Text: "photo.png", Delivery: Sent, Sent: 1000},
				{Key: "l-a", Own: true, Text: "photo.png", Delivery: Pending},
				{Key: "l-b", Own: true, Text: "photo.png", Delivery: Pending},
			},
		},
		{
			name: "an own text is never the echo of a local attachment",
			steps: func(t *tr) {
				t.Sending(Message{LocalID: "b", Text: "photo.png", At: ms(1), Attachment: true, Ref: "/p/2.PNG"})
				stored(t, 0, true, "photo.png", 1000)
			},
			want: []row{
				{Key: "m-C1-0", Own: true, Text: "photo.png", Delivery: Sent, Sent: 1000},
				{Key: "l-b", Own: true, Text: "photo.png", Delivery: Pending},
			},
		},
		{
			name: "duplicates ignored",
			steps: func(t *tr) {
				stored(t, 0, false, "hi", 1000)
				stored(t, 0, false, "hi", 1000)
			},
			want: []row{{Key: "m-C1-0", Text: "hi"}},
		},
		{
			name: "ACCEPT then READ, with their times",
			steps: func(t *tr) {
				stored(t, 0, true, "hello", 1000)
				accept(t, 2000, 0)
				read(t, 3000, 0)
			},
			want: []row{{Key: "m-C1-0", Own: true, Text: "hello", Delivery: Read, Sent: 1000, Accepted: 2000, Read: 3000}},
		},
		{
			name: "READ without ACCEPT is also delivered; never backwards",
			steps: func(t *tr) {
				stored(t, 0, true, "hello", 1000)
				read(t, 3000, 0)
				accept(t, 4000, 0)
			},
			want: []row{{Key: "m-C1-0", Own: true, Text: "hello", Delivery: Read, Sent: 1000, Accepted: 3000, Read: 3000}},
		},
		{
			name: "receipts of the other side's messages change nothing",
			steps: func(t *tr) {
				stored(t, 0, false, "hi", 1000)
				read(t, 2000, 0)
			},
			want: []row{{Key: "m-C1-0", Text: "hi"}},
		},
		{
			name: "early receipts wait for their message; READ wins over ACCEPT",
			steps: func(t *tr) {
				read(t, 3000, 0)
				accept(t, 4000, 0, 1)
				stored(t, 0, true, "a", 1000)
				stored(t, 1, true, "b", 1500)
			},
			want: []row{
				{Key: "m-C1-0", Own: true, Text: "a", Delivery: Read, Sent: 1000, Accepted: 3000, Read: 3000},
				{Key: "m-C1-1", Seq: 1, Own: true, Text: "b", Delivery: Accepted, Sent: 1500, Accepted: 4000},
			},
		},
		{
			name: "history merged after live: in sequence order",
			steps: func(t *tr) {
				stored(t, 2, false, "c", 3000)
				stored(t, 0, false, "a", 1000)
				stored(t, 1, true, "b", 2000)
			},
			want: []row{
				{Key: "m-C1-0", Text: "a"},
				{Key: "m-C1-1", Seq: 1, Own: true, Text: "b", Delivery: Sent, Sent: 2000},
				{Key: "m-C1-2", Seq: 2, Text: "c"},
			},
		},
		{
			name: "local messages stay after the stored ones",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				stored(t, 3, false, "hi", 1000)
			},
			want: []row{
				{Key: "m-C1-3", Seq: 3, Text: "hi"},
				{Key: "l-1", Own: true, Text: "hello", Delivery: Pending},
			},
		},
		{
			name: "response then echo",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				t.Sent("1", dialog, 4, ms(900))
				stored(t, 4, true, "hello", 1000)
			},
			want: []row{{Key: "l-1", Seq: 4, Own: true, Text: "hello", Delivery: Sent, Sent: 900}},
		},
		{
			name: "echo then response",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				stored(t, 4, true, "hello", 1000)
				t.Sent("1", dialog, 4, ms(1100))
			},
			want: []row{{Key: "l-1", Seq: 4, Own: true, Text: "hello", Delivery: Sent, Sent: 1000}},
		},
		{
			name: "a receipt before the response is kept for later",
			steps: func(t *tr) {
				sending(t, "1", "hi")
				accept(t, 800, 0)
				t.Sent("1", dialog, 0, ms(900))
			},
			want: []row{{Key: "l-1", Own: true, Text: "hi", Delivery: Accepted, Sent: 900, Accepted: 800}},
		},
		{
			name: "a sent message goes before the other local ones",
			steps: func(t *tr) {
				sending(t, "1", "a")
				sending(t, "2", "b")
				t.Sent("2", dialog, 0, ms(900))
			},
			want: []row{
				{Key: "l-2", Own: true, Text: "b", Delivery: Sent, Sent: 900},
				{Key: "l-1", Own: true, Text: "a", Delivery: Pending},
			},
		},
		{
			name: "failed",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				t.Failed("1")
			},
			want: []row{{Key: "l-1", Own: true, Text: "hello", Delivery: Failed}},
		},
		{
			name: "failed, then its echo in catch-up: it did land",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				t.Failed("1")
				stored(t, 0, true, "hello", 1000)
			},
			want: []row{{Key: "l-1", Own: true, Text: "hello", Delivery: Sent, Sent: 1000}},
		},
		{
			name: "failure after the echo changes nothing",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				stored(t, 0, true, "hello", 1000)
				t.Failed("1")
			},
			want: []row{{Key: "l-1", Own: true, Text: "hello", Delivery: Sent, Sent: 1000}},
		},
		{
			name: "a retry is pending again, not a new message",
			steps: func(t *tr) {
				sending(t, "1", "hello")
				t.Failed("1")
				sending(t, "1", "hello")
			},
			want: []row{{Key: "l-1", Own: true, Text: "hello", Delivery: Pending}},
		},
		{
			name: "identical texts in order",
			steps: func(t *tr) {
				sending(t, "1", "ok")
				sending(t, "2", "ok")
				stored(t, 4, true, "ok", 1000)
				t.Sent("1", dialog, 4, ms(1000))
				t.Sent("2", dialog, 5, ms(1200))
				stored(t, 5, true, "ok", 1200)
			},
			want: []row{
				{Key: "l-1", Seq: 4, Own: true, Text: "ok", Delivery: Sent, Sent: 1000},
				{Key: "l-2", Seq: 5, Own: true, Text: "ok", Delivery: Sent, Sent: 1200},
			},
		},
		{
			name: "identical texts, both echoes first and matched the wrong way: swapped",
			steps: func(t *tr) {
				sending(t, "1", "ok")
				sending(t, "2", "ok")
				stored(t, 0, true, "ok", 1000) // 2's echo, matched to 1
				stored(t, 1, true, "ok", 1100) // 1's echo, matched to 2
				read(t, 1500, 0)               // 2's READ
				t.Sent("2", dialog, 0, ms(2000))
				t.Sent("1", dialog, 1, ms(2100))
			},
			want: []row{
				{Key: "l-2", Own: true, Text: "ok", Delivery: Read, Sent: 1000, Accepted: 1500, Read: 1500},
				{Key: "l-1", Seq: 1, Own: true, Text: "ok", Delivery: Sent, Sent: 1100},
			},
		},
		{
			name: "identical texts, one echo matched the wrong way, its response first",
			steps: func(t *tr) {
				sending(t, "1", "ok")
				sending(t, "2", "ok")
				stored(t, 0, true, "ok", 1000) // 2's echo, matched to 1
				t.Sent("2", dialog, 0, ms(1100))
				t.Sent("1", dialog, 1, ms(1200))
				stored(t, 1, true, "ok", 1300)
			},
			want: []row{
				{Key: "l-2", Own: true, Text: "ok", Delivery: Sent, Sent: 1000},
				{Key: "l-1", Seq: 1, Own: true, Text: "ok", Delivery: Sent, Sent: 1200},
			},
		},
		{
			name: "identical texts, the wrongly matched one's response first",
			steps: func(t *tr) {
				sending(t, "1", "ok")
				sending(t, "2", "ok")
				stored(t, 0, true, "ok", 1000) // 2's echo, matched to 1
				t.Sent("1", dialog, 1, ms(1100))
				stored(t, 1, true, "ok", 1200)
				t.Sent("2", dialog, 0, ms(1300))
			},
			want: []row{
				{Key: "l-2", Own: true, Text: "ok", Delivery: Sent, Sent: 1000},
				{Key: "l-1", Seq: 1, Own: true, Text: "ok", Delivery: Sent, Sent: 1100},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x tr
			tt.steps(&x)
			if diff := cmp.Diff(tt.want, rows(&x), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAddPlaced: what Add says about where a message went, which the pages
// need to know whether appending it is enough.
func TestAddPlaced(t *testing.T) {
	var x tr
	steps := []struct {
		name string
		add  func() Placed
		want Placed
	}{
		{"first", func() Placed { return stored(&x, 1, false, "b", 2000) }, Appended},
		{"again", func() Placed { return stored(&x, 1, false, "b", 2000) }, Duplicate},
		{"older", func() Placed { return stored(&x, 0, false, "a", 1000) }, Inserted},
		{"newer, with a local one pending", func() Placed {
			sending(&x, "1", "mine")
			return stored(&x, 2, false, "c", 3000)
		}, BeforeLocal},
		{"the local one's echo", func() Placed { return stored(&x, 3, true, "mine", 4000) }, Matched},
		{"another dialog, later", func() Placed {
			_, p := x.Add(Message{DialogID: "D2", Seq: 0, Text: "survey", At: ms(5000)})
			return p
		}, Appended},
		{"the first dialog, earlier than the other's", func() Placed { return stored(&x, 4, false, "d", 4500) }, Inserted},
	}
	for _, s := range steps {
		if got := s.add(); got != s.want {
			t.Errorf("%s: placed %d, want %d", s.name, got, s.want)
		}
	}
	var keys []string
	for m := range x.All() {
		keys = append(keys, m.Key)
	}
	want := []string{"m-C1-0", "m-C1-1", "m-C1-2", "l-1", "m-C1-4", "m-D2-0"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if m, ok := x.Get(dialog, 3); !ok || m.LocalID != "1" {
		t.Errorf("Get(C1, 3) = %+v, %v; want the local message 1", m, ok)
	}
	if last, _ := x.Last(); last.Key != "m-D2-0" {
		t.Errorf("Last = %s", last.Key)
	}
}

// TestStepsReport: each step returns what changed, and only that.
func TestStepsReport(t *testing.T) {
	var x tr
	if _, added := x.Sending(Message{LocalID: "1", Text: "hi"}); !added {
		t.Fatal("Sending did not add")
	}
	if got := x.Sent("1", dialog, 0, ms(1000)); len(got) != 1 || got[0].Seq != 0 {
		t.Errorf("Sent = %+v", got)
	}
	if got := x.Sent("1", dialog, 0, ms(1000)); got != nil {
		t.Errorf("Sent again = %+v", got)
	}
	if _, ok := x.Failed("1"); ok {
		t.Error("Failed after Sent reported a change")
	}
	if got := x.Receipt(dialog, []int64{0}, false, ms(2000)); len(got) != 1 || got[0].Delivery != Accepted {
		t.Errorf("ACCEPT = %+v", got)
	}
	if got := x.Receipt(dialog, []int64{0}, false, ms(3000)); got != nil {
		t.Errorf("ACCEPT again = %+v", got)
	}
	if got := x.Sent("unknown", dialog, 1, ms(1000)); got != nil {
		t.Errorf("Sent of an unknown local id = %+v", got)
	}
}

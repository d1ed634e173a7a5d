package receipts

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

const (
	me    = "consumer-1"
	agent = "agent-pid"
	dlg   = "D1"
)

func content(seq int64, from string) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: protocol.Seq(seq), DialogID: dlg, OriginatorID: from,
		OriginatorMetadata: &protocol.OriginatorMetadata{ID: from},
		Event:              protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "hi"},
	}
}

func receipt(seq int64, from, status string, seqs ...int64) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: protocol.Seq(seq), DialogID: dlg, OriginatorID: from,
		Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: seqs},
	}
}

func chatState(from string) protocol.MessagingEvent {
	return protocol.MessagingEvent{DialogID: dlg, OriginatorID: from,
		Event: protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing}}
}

type step struct {
	observe   *protocol.MessagingEvent
	delivered int64
	seen      int64
	dialog    string // default dlg
	wantErr   error
}

func TestFlush(t *testing.T) {
	obs := func(ev protocol.MessagingEvent) step { return step{observe: &ev} }
	del := func(n int64) step { return step{delivered: n, seen: -1} }
	saw := func(n int64) step { return step{seen: n, delivered: -1} }
	refused := func(s step, err error) step { s.wantErr = err; return s }

	tests := []struct {
		name  string
		steps []step
		want  []Batch
	}{
		{
			name:  "delivered agent text is accepted",
			steps: []step{obs(content(0, agent)), del(0)},
			want:  []Batch{{dlg, "ACCEPT", []int64{0}}},
		},
		{
			name:  "seen without accept sends ACCEPT first in the same flush",
			steps: []step{obs(content(0, agent)), obs(content(1, agent)), saw(1), del(0)},
			want:  []Batch{{dlg, "ACCEPT", []int64{0, 1}}, {dlg, "READ", []int64{1}}},
		},
		{
			name:  "history of own ACCEPT prevents a second ACCEPT",
			steps: []step{obs(content(0, agent)), obs(receipt(1, me, "ACCEPT", 0)), del(0)},
			want:  nil,
		},
		{
			name:  "history of own ACCEPT: seen sends READ only",
			steps: []step{obs(content(0, agent)), obs(receipt(1, me, "ACCEPT", 0)), saw(0)},
			want:  []Batch{{dlg, "READ", []int64{0}}},
		},
		{
			name:  "history of own READ: never ACCEPT afterwards",
			steps: []step{obs(content(0, agent)), obs(receipt(1, me, "READ", 0)), del(0), saw(0)},
			want:  nil,
		},
		{
			name:  "the agent's receipts do not count as ours",
			steps: []step{obs(content(0, agent)), obs(receipt(1, agent, "ACCEPT", 0)), del(0)},
			want:  []Batch{{dlg, "ACCEPT", []int64{0}}},
		},
		{
			name:  "own message refused",
			steps: []step{obs(content(0, me)), refused(del(0), ErrOwnMessage)},
		},
		{
			name:  "receipt event refused",
			steps: []step{obs(receipt(0, agent, "READ", 0)), refused(saw(0), ErrNotContent)},
		},
		{
			name:  "unknown sequence refused",
			steps: []step{obs(content(0, agent)), refused(del(7), ErrUnknownSequence)},
		},
		{
			name:  "chat states are not stored and not acknowledgeable",
			steps: []step{obs(chatState(agent)), refused(del(0), ErrUnknownSequence)},
		},
		{
			name:  "unknown dialog refused",
			steps: []step{refused(step{delivered: 0, seen: -1, dialog: "D2"}, ErrUnknownDialog)},
		},
		{
			name:  "sequences batch ascending per status",
			steps: []step{obs(content(5, agent)), obs(content(2, agent)), obs(content(9, agent)), del(9), del(2), del(5), saw(5), saw(2)},
			want:  []Batch{{dlg, "ACCEPT", []int64{2, 5, 9}}, {dlg, "READ", []int64{2, 5}}},
		},
		// Another node (or another socket) published while ours was due:
		// the echo comes before our flush and nothing is sent twice.
		{
			name:  "echo of ACCEPT drops a due ACCEPT",
			steps: []step{obs(content(0, agent)), del(0), obs(receipt(1, me, "ACCEPT", 0))},
			want:  nil,
		},
		{
			name:  "echo of ACCEPT leaves a due READ alone",
			steps: []step{obs(content(0, agent)), saw(0), obs(receipt(1, me, "ACCEPT", 0))},
			want:  []Batch{{dlg, "READ", []int64{0}}},
		},
		{
			name:  "echo of READ drops a due ACCEPT and READ",
			steps: []step{obs(content(0, agent)), del(0), saw(0), obs(receipt(1, me, "READ", 0))},
			want:  nil,
		},
		{
			name:  "repeated reports are one receipt",
			steps: []step{obs(content(0, agent)), del(0), del(0), saw(0), saw(0), del(0)},
			want:  []Batch{{dlg, "ACCEPT", []int64{0}}, {dlg, "READ", []int64{0}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(me)
			tr.Track(dlg)
			for i, s := range tt.steps {
				d := s.dialog
				if d == "" {
					d = dlg
				}
				var err error
				switch {
				case s.observe != nil:
					tr.Observe(*s.observe)
				case s.delivered >= 0:
					err = tr.Delivered(d, s.delivered)
				case s.seen >= 0:
					err = tr.Seen(d, s.seen)
				}
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
			}
			got := tr.Flush()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Flush (-want +got):\n%s", diff)
			}
			// Nothing is offered twice while in flight.
			if again := tr.Flush(); len(again) != 0 {
				t.Errorf("second Flush = %v, want nothing", again)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	setup := func() *Tracker {
		tr := New(me)
		tr.Observe(content(0, agent))
		tr.Observe(content(1, agent))
		if err := tr.Seen(dlg, 0); err != nil {
			t.Fatal(err)
		}
		if err := tr.Delivered(dlg, 1); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	first := []Batch{{dlg, "ACCEPT", []int64{0, 1}}, {dlg, "READ", []int64{0}}}

	t.Run("published is never offered again", func(t *testing.T) {
		tr := setup()
		for _, b := range tr.Flush() {
			tr.Published(b)
		}
		if got := tr.Flush(); len(got) != 0 {
			t.Errorf("Flush after publish = %v", got)
		}
		if got := tr.Status(dlg, 0); got != "READ" {
			t.Errorf("Status(0) = %q, want READ", got)
		}
		if got := tr.Status(dlg, 1); got != "ACCEPT" {
			t.Errorf("Status(1) = %q, want ACCEPT", got)
		}
	})
	t.Run("retryable failure offers the same again", func(t *testing.T) {
		tr := setup()
		for _, b := range tr.Flush() {
			tr.Failed(b, true)
		}
		if diff := cmp.Diff(first, tr.Flush()); diff != "" {
			t.Errorf("retry Flush (-want +got):\n%s", diff)
		}
	})
	t.Run("a refusal to give up on drops", func(t *testing.T) {
		tr := setup()
		for _, b := range tr.Flush() {
			tr.Failed(b, false)
		}
		if got := tr.Flush(); len(got) != 0 {
			t.Errorf("Flush after a refusal = %v", got)
		}
	})
	t.Run("unanswered after a lost connection, then the echo arrives in catch-up", func(t *testing.T) {
		tr := setup()
		for _, b := range tr.Flush() {
			tr.Failed(b, true)
		}
		// The ACCEPT went through before the cut; the READ did not.
		tr.Observe(receipt(2, me, "ACCEPT", 0, 1))
		want := []Batch{{dlg, "READ", []int64{0}}}
		if diff := cmp.Diff(want, tr.Flush()); diff != "" {
			t.Errorf("Flush (-want +got):\n%s", diff)
		}
	})
	t.Run("a failed ACCEPT does not free its in-flight READ", func(t *testing.T) {
		tr := setup()
		batches := tr.Flush()
		tr.Published(batches[1]) // READ answered first
		tr.Failed(batches[0], true)
		want := []Batch{{dlg, "ACCEPT", []int64{1}}} // 0 is read: no ACCEPT after READ
		if diff := cmp.Diff(want, tr.Flush()); diff != "" {
			t.Errorf("Flush (-want +got):\n%s", diff)
		}
	})
}

func TestBatchBound(t *testing.T) {
	tr := New(me)
	for n := range int64(MaxBatch + 3) {
		tr.Observe(content(n, agent))
		if err := tr.Delivered(dlg, n); err != nil {
			t.Fatal(err)
		}
	}
	got := tr.Flush()
	if len(got) != 2 || len(got[0].Sequences) != MaxBatch || len(got[1].Sequences) != 3 {
		t.Fatalf("Flush gave %d batches, sizes %v", len(got), sizes(got))
	}
}

func sizes(bs []Batch) []int {
	var out []int
	for _, b := range bs {
		out = append(out, len(b.Sequences))
	}
	return out
}

func TestBatchEvent(t *testing.T) {
	b := Batch{DialogID: dlg, Status: "READ", Sequences: []int64{3, 4}}
	got, err := protocol.Marshal(b.Event())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"AcceptStatusEvent","status":"READ","sequenceList":[3,4]}`
	if string(got) != want {
		t.Errorf("Event = %s, want %s", got, want)
	}
}

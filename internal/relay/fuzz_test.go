package relay_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// fuzzSelf is the consumer of the fuzzed notifications (the golden frames'
// consumer).
const fuzzSelf = "<consumer sub>"

// FuzzUpstreamNotification feeds anything the service could send through
// the path a session's notifications take: protocol.ParseFrame, the body
// decode of the notification's type, then (for the dialogs the session
// follows) the receipt Tracker and the Conversation. Nothing panics, the
// conversation never holds two messages for one sequence, and after every
// message and every sequence seen is reported delivered and seen, the
// tracker asks to publish receipts only for sequences whose event is
// another participant's content, in batches of at most MaxBatch,
// ascending.
//
// frame is a whole frame when asBody is false, else the body of a
// notification of the type picked by kind.
func FuzzUpstreamNotification(f *testing.F) {
	ins, err := filepath.Glob(filepath.Join("..", "protocol", "testdata", "golden", "s4_*notification*.in.json"))
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join("..", "protocol", "testdata", "golden", "s4_ex_conversation_change*.in.json"))
	for _, p := range append(ins, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false, uint8(0))
		if fr, err := protocol.ParseFrame(b); err == nil {
			f.Add([]byte(fr.Body), true, uint8(0))
			f.Add([]byte(fr.Body), true, uint8(1))
		}
	}
	for _, s := range []string{
		`{"changes":[{"sequence":3,"originatorId":"agent","dialogId":"C1","event":{"type":"ContentEvent","message":"x"}},{"sequence":4,"originatorId":"<consumer sub>","dialogId":"C1","event":{"type":"AcceptStatusEvent","status":"ACCEPT","sequenceList":[3]}}]}`,
		`{"changes":[{"sequence":3,"originatorId":"agent","dialogId":"C1","event":{"type":"ContentEvent","message":"x"}},{"sequence":3,"originatorId":"<consumer sub>","dialogId":"C1","event":{"type":"ContentEvent","message":"x"}}]}`,
		`{"changes":{"sequence":-1,"dialogId":"C1","event":{"type":".ams.ms.RichContentEvent","message":{"type":"vertical"}}}}`,
		`{"changes":[{"sequence":9223372036854775807,"originatorMetadata":{"id":""},"dialogId":"S1","event":{"type":"ContentEvent","quickReplies":{"replies":[1]}}}]}`,
		`{"changes":[{"dialogId":"C1","event":{"type":"ChatStateEvent","chatState":"COMPOSING"}}]}`,
		"{\"changes\":[{\"sequence\":1,\"dialogId\":\"C1\",\"event\":{\"type\":\"ContentEvent\",\"message\":\"\xff\"}}]}",
		`{"changes":[{"type":"UPSERT","result":{"convId":"C1","conversationDetails":{"stage":"CLOSE","participantsPId":{"ASSIGNED_AGENT":["a"]}}}}]}`,
	} {
		f.Add([]byte(s), true, uint8(0))
		f.Add([]byte(s), true, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, asBody bool, kind uint8) {
		frame := data
		if asBody {
			typ := protocol.TypeMessagingEventNotification
			if kind%2 == 1 {
				typ = protocol.TypeExConversationChange
			}
			frame = append(append([]byte(`{"kind":"notification","type":"`+typ+`","body":`), data...), '}')
		}
		fr, err := protocol.ParseFrame(frame)
		if err != nil || fr.Kind != protocol.KindNotification {
			return // the client logs and drops it
		}
		conv := relay.NewConversation(fuzzSelf)
		tr := receipts.New(fuzzSelf)
		followed := map[string]bool{"C1": true, "S1": true}
		for id := range followed {
			tr.Track(id)
		}
		// content[dialog][seq]: the last event of that sequence is another
		// participant's content (what the tracker may receipt).
		content := map[string]map[int64]bool{}
		var reported []receipts.Item
		switch protocol.Canonical(fr.Type) {
		case protocol.TypeMessagingEventNotification:
			var n protocol.MessagingEventNotification
			if fr.DecodeBody(&n) != nil {
				return
			}
			for _, ev := range n.Changes {
				if !followed[ev.DialogID] {
					continue // the session drops events of dialogs it does not follow
				}
				tr.Observe(ev)
				conv.Apply(ev)
				if seq, ok := ev.Seq(); ok {
					if content[ev.DialogID] == nil {
						content[ev.DialogID] = map[int64]bool{}
					}
					own := ev.Originator() == fuzzSelf || ev.OriginatorID == fuzzSelf
					content[ev.DialogID][seq] = !own && ev.Event.IsContent()
					reported = append(reported, receipts.Item{DialogID: ev.DialogID, Seq: seq})
					for _, s := range ev.Event.SequenceList {
						reported = append(reported, receipts.Item{DialogID: ev.DialogID, Seq: s})
					}
				}
			}
		case protocol.TypeExConversationChange:
			var n protocol.ExConversationChangeNotification
			if fr.DecodeBody(&n) != nil {
				return
			}
			for _, ch := range n.Changes {
				conv.ApplyConversation(ch)
			}
		default:
			return // the session ignores other notifications
		}
		keys := map[string]bool{}
		seqs := map[receipts.Item]bool{}
		for _, m := range conv.Messages() {
			if keys[m.Key] {
				t.Fatalf("two messages keyed %q", m.Key)
			}
			keys[m.Key] = true
			if m.HasSeq {
				it := receipts.Item{DialogID: m.DialogID, Seq: m.Seq}
				if seqs[it] {
					t.Fatalf("two messages for %v", it)
				}
				seqs[it] = true
				reported = append(reported, it)
			}
		}
		for _, it := range reported {
			_ = tr.Delivered(it.DialogID, it.Seq)
			_ = tr.Seen(it.DialogID, it.Seq)
		}
		for _, b := range tr.Flush() {
			if b.Status != protocol.StatusAccept && b.Status != protocol.StatusRead {
				t.Fatalf("a batch of status %q", b.Status)
			}
			if len(b.Sequences) == 0 || len(b.Sequences) > receipts.MaxBatch || !slices.IsSorted(b.Sequences) {
				t.Fatalf("a batch of %d sequences (sorted %v)", len(b.Sequences), slices.IsSorted(b.Sequences))
			}
			for _, s := range b.Sequences {
				if !content[b.DialogID][s] {
					t.Fatalf("%s of %s/%d, which is not another participant's content", b.Status, b.DialogID, s)
				}
			}
		}
	})
}

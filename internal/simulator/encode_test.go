package simulator

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// FuzzFrameBytes: the service encodes its frames with Frame.MarshalJSON
// (socket.send, encodeNotification), not protocol.Marshal, which would
// scan that output again; the bytes must be the same for whatever a
// client can put in a frame (text, metadata, request ids, rich content).
func FuzzFrameBytes(f *testing.F) {
	f.Add("hello", []byte(`[{"type":"ExternalId","id":"x"}]`), "r1", []byte(`{"type":"vertical"}`))
	f.Add("<b>&</b> \u2028\u2029 \x00 \xff", []byte(` [ {"a" : "<"} ] `), "", []byte(`null`))
	f.Add("", []byte(`"\u003c"`), `"quoted"`, []byte(`{"elements":[1, 2.50, -0e3, true]}`))
	f.Fuzz(func(t *testing.T, msg string, metadata []byte, reqID string, content []byte) {
		if !json.Valid(metadata) {
			metadata = nil
		}
		if !json.Valid(content) {
			content = nil
		}
		seq := int64(len(msg))
		d := &dialog{id: "d", conv: &conversation{id: "d"}}
		from := member{role: protocol.RoleConsumer, consumerID: msg}
		events := []*storedEvent{
			{seq: &seq, ts: 1, from: from, dialog: d, event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: msg}, metadata: metadata},
			{seq: &seq, ts: 2, from: from, dialog: d, event: protocol.Event{Type: protocol.EventRichContent, Content: content}},
			{seq: &seq, ts: 3, from: from, dialog: d, event: protocol.Event{Type: protocol.EventAcceptStatus, Status: msg, SequenceList: protocol.Seqs{seq, 0}}},
			{from: from, dialog: d, event: protocol.Event{Type: protocol.EventChatState, ChatState: msg}},
		}
		var frames []protocol.Frame
		for _, e := range events {
			n, err := protocol.NewNotification(protocol.TypeMessagingEventNotification,
				protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{e.consumerView()}})
			if err != nil {
				t.Fatal(err)
			}
			a, err := protocol.NewNotification(".ams."+protocol.TypeOnlineEventDistribution, e.agentView())
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, n, a)
		}
		for _, body := range []any{nil, msg, protocol.PublishEventResponse{Sequence: seq}} {
			r, err := protocol.NewResponse(protocol.ID(reqID), 400, msg, body)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, r)
		}
		for _, fr := range frames {
			want, err := protocol.Marshal(fr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fr.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("MarshalJSON:\n%s\nprotocol.Marshal:\n%s", got, want)
			}
		}
	})
}

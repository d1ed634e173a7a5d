package protocol

import "testing"

// Typical frames: an agent's text as the consumer receives it, and the
// consumer's text as it publishes it. The benchmarks measure; they assert
// nothing about speed.
var (
	benchNotification = []byte(`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":3,"originatorId":"2b3c8a9e-4c7d-4a8e-9a55-3f0e6f1d2c11","originatorMetadata":{"id":"2b3c8a9e-4c7d-4a8e-9a55-3f0e6f1d2c11","role":"ASSIGNED_AGENT"},"serverTimestamp":1487455441507,"dialogId":"940f401e-dc4c-49a9-bff2-2bbb5bd0df64","conversationId":"940f401e-dc4c-49a9-bff2-2bbb5bd0df64","event":{"type":"ContentEvent","message":"Hello, how can I help you today?","contentType":"text/plain"}}]}}`)
	benchPublish      = []byte(`{"kind":"req","id":"42","type":"ms.PublishEvent","body":{"dialogId":"940f401e-dc4c-49a9-bff2-2bbb5bd0df64","conversationId":"940f401e-dc4c-49a9-bff2-2bbb5bd0df64","event":{"type":"ContentEvent","contentType":"text/plain","message":"I'd like to change my <b>delivery</b> address"}}}`)
)

func BenchmarkDecodeMessagingEventNotification(b *testing.B) {
	benchDecode[MessagingEventNotification](b, benchNotification)
}

func BenchmarkEncodeMessagingEventNotification(b *testing.B) {
	f, err := ParseFrame(benchNotification)
	if err != nil {
		b.Fatal(err)
	}
	var n MessagingEventNotification
	if err := f.DecodeBody(&n); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchNotification)))
	for b.Loop() {
		out, err := NewNotification(TypeMessagingEventNotification, n)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePublishEvent(b *testing.B) { benchDecode[PublishEvent](b, benchPublish) }

func BenchmarkEncodePublishEvent(b *testing.B) {
	p := PublishEvent{
		DialogID:       "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		ConversationID: "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		Event:          Event{Type: EventContent, ContentType: "text/plain", Message: "I'd like to change my <b>delivery</b> address"},
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPublish)))
	for b.Loop() {
		f, err := NewRequest("42", TypePublishEvent, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePublishAcceptStatusEvent encodes a receipt as the relay
// publishes it: an AcceptStatusEvent (ACCEPT) whose sequenceList holds one
// flush's ten sequences.
func BenchmarkEncodePublishAcceptStatusEvent(b *testing.B) {
	p := PublishEvent{
		DialogID:       "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		ConversationID: "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		Event:          Event{Type: EventAcceptStatus, Status: StatusAccept, SequenceList: Seqs{3, 5, 6, 7, 9, 10, 11, 12, 14, 15}},
	}
	f, err := NewRequest("43", TypePublishEvent, p)
	if err != nil {
		b.Fatal(err)
	}
	out, err := Marshal(f)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		f, err := NewRequest("43", TypePublishEvent, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

// The appenders, writing into a buffer reused from frame to frame as a
// socket's writer would.

func BenchmarkAppendPublishEvent(b *testing.B) {
	p := PublishEvent{
		DialogID:       "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		ConversationID: "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		Event:          Event{Type: EventContent, ContentType: "text/plain", Message: "I'd like to change my <b>delivery</b> address"},
	}
	benchAppend(b, func(dst []byte) ([]byte, error) { return AppendPublishEvent(dst, "42", TypePublishEvent, p) })
}

func BenchmarkAppendPublishAcceptStatusEvent(b *testing.B) {
	p := PublishEvent{
		DialogID:       "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		ConversationID: "940f401e-dc4c-49a9-bff2-2bbb5bd0df64",
		Event:          Event{Type: EventAcceptStatus, Status: StatusAccept, SequenceList: Seqs{3, 5, 6, 7, 9, 10, 11, 12, 14, 15}},
	}
	benchAppend(b, func(dst []byte) ([]byte, error) { return AppendPublishEvent(dst, "43", TypePublishEvent, p) })
}

func BenchmarkAppendMessagingEventNotification(b *testing.B) {
	f, err := ParseFrame(benchNotification)
	if err != nil {
		b.Fatal(err)
	}
	var n MessagingEventNotification
	if err := f.DecodeBody(&n); err != nil {
		b.Fatal(err)
	}
	benchAppend(b, func(dst []byte) ([]byte, error) { return AppendMessagingEventNotification(dst, n) })
}

func BenchmarkAppendPublishEventResponse(b *testing.B) {
	benchAppend(b, func(dst []byte) ([]byte, error) {
		return AppendResponse(dst, "42", 200, TypePublishEventResponse, PublishEventResponse{Sequence: 17})
	})
}

func benchAppend(b *testing.B, appendFrame func([]byte) ([]byte, error)) {
	buf, err := appendFrame(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if buf, err = appendFrame(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePublishEventResponse reads the answer to a publication.
func BenchmarkDecodePublishEventResponse(b *testing.B) {
	benchDecode[PublishEventResponse](b, []byte(`{"kind":"resp","reqId":"42","code":200,"type":"ms.PublishEventResponse","body":{"sequence":17}}`))
}

// BenchmarkEncodePublishEventResponse encodes the answer to a publication
// through the constructors, as the service does.
func BenchmarkEncodePublishEventResponse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		f, err := NewResponse("42", 200, TypePublishEventResponse, PublishEventResponse{Sequence: 17})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDecode measures reading frame and decoding its body as a T, as a
// client does with every frame it receives.
func benchDecode[T any](b *testing.B, frame []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		f, err := ParseFrame(frame)
		if err != nil {
			b.Fatal(err)
		}
		var v T
		if err := f.DecodeBody(&v); err != nil {
			b.Fatal(err)
		}
	}
}

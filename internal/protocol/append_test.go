package protocol

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// The encoders of append.go against Marshal's general path; see
// fastdecode_test.go for general and errText.

// hostile are string pieces an encoder must escape exactly as
// encoding/json does.
var hostile = []string{
	"", "a", "Hello, how can I help?", `"`, `\`, "/", "<b>&amp;</b>", "\n", "\r\t\b\f", "\x00", "\x1f", "\x7f",
	"\u2028", "\u2029", "é", "日本", "😀", "\xff", "\xed\xa0\x80", "\xe2\x80", "\xc3", "\ufffd", "\u00a0",
}

func randString(rng *rand.Rand) string {
	var b []byte
	for range rng.IntN(5) {
		b = append(b, hostile[rng.IntN(len(hostile))]...)
	}
	return string(b)
}

// raws are json.RawMessage values: compact, spaced, invalid, empty.
var raws = []string{"", `null`, `{"a":1}`, `[1, 2]`, "{\n \"b\" : \"\u2028<\" }", `{"a":`, `x`, ` `, `"s"`, `{"a":"\xff"}`}

func randRaw(rng *rand.Rand) json.RawMessage {
	if rng.IntN(3) == 0 {
		return nil
	}
	return json.RawMessage(raws[rng.IntN(len(raws))])
}

func randSeqs(rng *rand.Rand) Seqs {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return Seqs{}
	}
	s := make(Seqs, 1+rng.IntN(12))
	for i := range s {
		s[i] = rng.Int64() >> rng.IntN(63)
		if rng.IntN(5) == 0 {
			s[i] = -s[i]
		}
	}
	return s
}

var eventTypes = []string{EventContent, EventRichContent, EventAcceptStatus, EventChatState, "", "Other", ".ams.ms.ContentEvent"}

func randEvent(rng *rand.Rand) Event {
	e := Event{
		Type:         eventTypes[rng.IntN(len(eventTypes))],
		ContentType:  []string{"", "text/plain", ContentTypeHostedFile, "HostedFile", randString(rng)}[rng.IntN(5)],
		Message:      randString(rng),
		Status:       []string{"", StatusAccept, StatusRead, randString(rng)}[rng.IntN(4)],
		ChatState:    []string{"", ChatComposing, randString(rng)}[rng.IntN(3)],
		SequenceList: randSeqs(rng),
	}
	if rng.IntN(3) == 0 {
		e.QuickReplies = randRaw(rng)
	}
	if rng.IntN(3) == 0 {
		e.Content = randRaw(rng)
	}
	if rng.IntN(4) == 0 {
		e.File = &HostedFile{Caption: randString(rng), RelativePath: randString(rng), FileType: randString(rng), Preview: randString(rng)}
	}
	return e
}

func randMessagingEvent(rng *rand.Rand) MessagingEvent {
	m := MessagingEvent{
		OriginatorID:   randString(rng),
		OriginatorPID:  randString(rng),
		DialogID:       randString(rng),
		ConversationID: randString(rng),
		Event:          randEvent(rng),
	}
	if rng.IntN(2) == 0 {
		m.Sequence = Seq(rng.Int64N(1000) - 1)
	}
	if rng.IntN(2) == 0 {
		m.ServerTimestamp = rng.Int64() - rng.Int64()
	}
	if rng.IntN(2) == 0 {
		m.OriginatorMetadata = &OriginatorMetadata{ID: randString(rng), Role: randString(rng)}
	}
	if rng.IntN(4) == 0 {
		m.OriginatorClientProperties = randRaw(rng)
	}
	if rng.IntN(4) == 0 {
		m.Metadata = randRaw(rng)
	}
	return m
}

// randBody returns a body of one of the kinds the frames carry.
func randBody(rng *rand.Rand) any {
	switch rng.IntN(9) {
	case 0:
		return nil
	case 1:
		return randRaw(rng)
	case 2:
		return randString(rng)
	case 3:
		return PublishEventResponse{Sequence: rng.Int64() - rng.Int64()}
	case 4:
		var n MessagingEventNotification
		if rng.IntN(4) != 0 {
			for range 1 + rng.IntN(3) {
				n.Changes = append(n.Changes, randMessagingEvent(rng))
			}
		}
		return n
	case 5:
		return randMessagingEvent(rng)
	case 6:
		return randEvent(rng)
	case 7:
		return GetClockResponse{CurrentTime: rng.Int64()}
	}
	return PublishEvent{DialogID: randString(rng), ConversationID: randString(rng), Event: randEvent(rng)}
}

// checkEncode fails t when an encoder's output or error differs from
// Marshal's general path.
func checkEncode(t *testing.T, name string, fast func([]byte) ([]byte, error), slow func() ([]byte, error)) {
	t.Helper()
	prefix := []byte("prefix")
	got, err1 := fast(bytes.Clone(prefix))
	var want []byte
	var err2 error
	general(func() { want, err2 = slow() })
	if errText(err1) != errText(err2) {
		t.Fatalf("%s: error %s, general %s", name, errText(err1), errText(err2))
	}
	if err2 == nil {
		want = append(bytes.Clone(prefix), want...)
	} else {
		want = prefix
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: fast differs from general:\n%q\n%q", name, got, want)
	}
}

func checkEncodeAll(t *testing.T, rng *rand.Rand) {
	t.Helper()
	id, typ := randString(rng), []string{TypePublishEvent, TypeMessagingEventNotification, "", randString(rng)}[rng.IntN(4)]
	body := randBody(rng)
	code := []int{200, 400, 0, -1, rng.Int()}[rng.IntN(5)]
	marshal := func(f Frame, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return Marshal(f)
	}
	checkEncode(t, "Marshal body", func(dst []byte) ([]byte, error) {
		b, err := Marshal(body)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}, func() ([]byte, error) { return Marshal(body) })
	checkEncode(t, "AppendRequest", func(dst []byte) ([]byte, error) { return AppendRequest(dst, id, typ, body) },
		func() ([]byte, error) { return marshal(NewRequest(id, typ, body)) })
	checkEncode(t, "AppendResponse", func(dst []byte) ([]byte, error) { return AppendResponse(dst, ID(id), code, typ, body) },
		func() ([]byte, error) { return marshal(NewResponse(ID(id), code, typ, body)) })
	checkEncode(t, "AppendNotification", func(dst []byte) ([]byte, error) { return AppendNotification(dst, typ, body) },
		func() ([]byte, error) { return marshal(NewNotification(typ, body)) })
	switch b := body.(type) {
	case PublishEvent:
		checkEncode(t, "AppendPublishEvent", func(dst []byte) ([]byte, error) { return AppendPublishEvent(dst, id, typ, b) },
			func() ([]byte, error) { return marshal(NewRequest(id, typ, b)) })
	case MessagingEventNotification:
		checkEncode(t, "AppendMessagingEventNotification", func(dst []byte) ([]byte, error) { return AppendMessagingEventNotification(dst, b) },
			func() ([]byte, error) { return marshal(NewNotification(TypeMessagingEventNotification, b)) })
	}
	f := Frame{
		Kind: []string{KindReq, KindResp, KindNotification, "", "other"}[rng.IntN(5)], ID: ID(id), ReqID: ID(randString(rng)),
		Code: code, Type: typ, Body: randRaw(rng), Metadata: randRaw(rng),
	}
	if rng.IntN(5) == 0 {
		f.Headers = List[Header]{{Type: randString(rng)}}
	}
	checkEncode(t, "AppendFrame", func(dst []byte) ([]byte, error) { return AppendFrame(dst, f) },
		func() ([]byte, error) { return Marshal(f) })
	// What encoding/json calls for a Frame: the writer's bytes, as for
	// Marshal above.
	checkEncode(t, "Frame.MarshalJSON", func(dst []byte) ([]byte, error) {
		b, err := f.MarshalJSON()
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}, f.MarshalJSON)
	// And the same bytes as Marshal whenever Marshal has some: the service
	// encodes its frames by MarshalJSON directly.
	if want, err := Marshal(f); err == nil {
		if got, err := f.MarshalJSON(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Frame.MarshalJSON = %q, %v; Marshal = %q", got, err, want)
		}
	}
}

func TestFastEncodeAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		checkEncodeAll(t, rng)
	}
}

// FuzzFastEncode checks the encoders with the fuzzer's strings and raw
// JSON in a message's fields, and with random values of
// TestFastEncodeAgrees's kinds seeded by it.
func FuzzFastEncode(f *testing.F) {
	f.Add(uint64(1), uint64(2), "Hello <b>you</b>\u2028", []byte(`{"a":[1, 2]}`))
	f.Add(uint64(3), uint64(4), "\xff\x00\"", []byte(`{"a":`))
	f.Fuzz(func(t *testing.T, a, b uint64, s string, raw []byte) {
		checkEncodeAll(t, rand.New(rand.NewPCG(a, b)))
		ev := Event{Type: eventTypes[a%uint64(len(eventTypes))], ContentType: s, Message: s, Status: s, ChatState: s,
			QuickReplies: raw, Content: raw, SequenceList: Seqs{int64(a), -int64(b)}}
		p := PublishEvent{DialogID: s, ConversationID: s, Event: ev}
		checkEncode(t, "AppendPublishEvent", func(dst []byte) ([]byte, error) { return AppendPublishEvent(dst, s, s, p) },
			func() ([]byte, error) {
				f, err := NewRequest(s, s, p)
				if err != nil {
					return nil, err
				}
				return Marshal(f)
			})
		n := MessagingEventNotification{Changes: List[MessagingEvent]{{
			Sequence: Seq(int64(b)), OriginatorClientProperties: raw, OriginatorID: s, OriginatorPID: s,
			OriginatorMetadata: &OriginatorMetadata{ID: s, Role: s}, DialogID: s, ConversationID: s, Event: ev, Metadata: raw,
		}}}
		checkEncode(t, "AppendMessagingEventNotification", func(dst []byte) ([]byte, error) { return AppendMessagingEventNotification(dst, n) },
			func() ([]byte, error) {
				f, err := NewNotification(TypeMessagingEventNotification, n)
				if err != nil {
					return nil, err
				}
				return Marshal(f)
			})
		fr := Frame{Kind: KindResp, ReqID: ID(s), Code: int(a), Type: s, Body: raw}
		checkEncode(t, "AppendFrame", func(dst []byte) ([]byte, error) { return AppendFrame(dst, fr) },
			func() ([]byte, error) { return Marshal(fr) })
	})
}

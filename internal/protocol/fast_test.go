package protocol

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fast readers and writers (scan.go, fastdecode.go, append.go) must
// give exactly what encoding/json gives, value and error, for every input.
// These tests run each exported entry point twice, with the fast paths on
// and with generalOnly set, and compare.

// general runs f with every fast path off.
func general(f func()) {
	generalOnly.Store(true)
	defer generalOnly.Store(false)
	f()
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// decodeTargets are the values bodies are decoded into: the hot types,
// empty and already holding something (encoding/json merges into what is
// there), and the types whose unmarshalers have fast paths of their own.
var decodeTargets = []func() any{
	func() any { return new(MessagingEventNotification) },
	func() any {
		return &MessagingEventNotification{Changes: List[MessagingEvent]{{DialogID: "old", Event: Event{Type: EventContent}}}}
	},
	func() any { return new(PublishEvent) },
	func() any {
		return &PublishEvent{DialogID: "old", ConversationID: "oldc", Event: Event{Type: EventContent, Message: "old"}}
	},
	func() any { return new(MessagingEvent) },
	func() any {
		return &MessagingEvent{DialogID: "old", ServerTimestamp: 7, OriginatorID: "o", Metadata: json.RawMessage(`[1]`)}
	},
	func() any {
		return &MessagingEvent{Sequence: Seq(4), OriginatorMetadata: &OriginatorMetadata{ID: "x", Role: "y"}}
	},
	func() any { return new(PublishEventResponse) },
	func() any { return &PublishEventResponse{Sequence: 9} },
	func() any { return new(string) },
	func() any { s := "old"; return &s },
	func() any { return new(Event) },
	func() any { return new(ID) },
	func() any { return new(List[MessagingEvent]) },
	func() any { return new(GenerateURLForUploadFile) },
}

// checkDecode fails t when any decoding entry point gives a different
// value or error with the fast paths than without.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	f1, err1 := ParseFrame(data)
	var f2 Frame
	var err2 error
	general(func() { f2, err2 = ParseFrame(data) })
	if diff := cmp.Diff(f2, f1); diff != "" || errText(err1) != errText(err2) {
		t.Fatalf("ParseFrame(%q): fast differs from general (-general +fast):\n%s\nerrors: %s | %s", data, diff, errText(err2), errText(err1))
	}
	checkBody(t, data)
	if err1 == nil && len(f1.Body) > 0 && !bytes.Equal(f1.Body, data) {
		checkBody(t, f1.Body)
	}
}

func checkBody(t *testing.T, body []byte) {
	t.Helper()
	for i, mk := range decodeTargets {
		v1, v2 := mk(), mk()
		err1 := Frame{Type: "t", Body: body}.DecodeBody(v1)
		var err2 error
		general(func() { err2 = Frame{Type: "t", Body: body}.DecodeBody(v2) })
		if diff := cmp.Diff(v2, v1); diff != "" || errText(err1) != errText(err2) {
			t.Fatalf("DecodeBody(%q) into %T (target %d): fast differs from general (-general +fast):\n%s\nerrors: %s | %s",
				body, v1, i, diff, errText(err2), errText(err1))
		}
	}
	s1 := Frame{Body: body}.BodyString()
	var s2 string
	general(func() { s2 = Frame{Body: body}.BodyString() })
	if s1 != s2 {
		t.Fatalf("BodyString(%q) = %q, general %q", body, s1, s2)
	}
}

// decodeEdges are inputs at the fast readers' borders: what they must
// refuse (and leave to encoding/json) and what they must read alike.
var decodeEdges = []string{
	``, ` `, `null`, `{}`, `[]`, `"x"`, `5`, `{"kind":"req","id":"1","type":"t"} x`, `{"kind":"req","id":"1","type":"t"}  `,
	`{"kind":"req","kind":"resp","type":"t"}`, `{"KIND":"req","type":"t"}`, `{"\u006bind":"req","type":"t"}`,
	`{"kind":"req","id":"1","type":"t","headers":[]}`, `{"kind":"req","id":true,"type":"t"}`,
	`{"kind":"req","id":-0,"type":"t"}`, `{"kind":"req","id":1.5e3,"type":"t"}`, `{"kind":"req","id":01,"type":"t"}`,
	`{"kind":"resp","reqId":"1","code":200.0}`, `{"kind":"resp","reqId":"1","code":99999999999999999999}`,
	`{"kind":"resp","reqId":"1","code":-1}`, `{"kind":"resp","reqId":"1","code":null,"type":null}`,
	`{"kind":"notification","type":"t","body":{"a":[1,2,{"b":"\ud83d\ude00"}]},"metadata":[ 1 ]}`,
	"{\"kind\":\"req\",\"id\":\"\xff\",\"type\":\"t\"}", `{"kind":"req","id":"\u2028\n\t\"\\\/","type":"t"}`,
	`{"kind":"req","id":"\ud800","type":"t"}`, `{"kind":"req","id":"\u00e9","type":"t"}`, "{\"kind\":\"req\",\"id\":\"\u212a\",\"type\":\"t\"}",
	"{\"\u212aind\":\"req\",\"type\":\"t\"}", `{"kind":"req","type":"t","body":nul}`, `{"kind":"req","type":"t","body":[1,]}`,
	`{"changes":[]}`, `{"changes":null}`, `{"changes":[null]}`, `{"changes":{"dialogId":"d","event":{"type":"ContentEvent","message":"m"}}}`,
	`{"changes":[{"sequence":1,"sequence":2}]}`, `{"changes":[{"sequence":"1"}]}`, `{"changes":[{"sequence":null,"originatorMetadata":null}]}`,
	`{"changes":[{"originatorMetadata":{"id":"a","ID":"b"}}]}`, `{"changes":[{"originatorClientProperties":null,"metadata":null}]}`,
	`{"changes":[{"event":null}]}`, `{"changes":[{"event":"x"}]}`, `{"changes":[{"Event":{}}]}`, `{"changes":[{"serverTimestamp":1e3}]}`,
	`{"dialogId":"d","event":{"type":".ams.ms.ContentEvent","message":"hi"}}`, `{"dialogId":null,"conversationId":null,"event":{}}`,
	`{"dialogId":"d","event":{"type":"AcceptStatusEvent","status":"READ","sequenceList":null}}`,
	`{"dialogId":"d","event":{"type":"AcceptStatusEvent","sequenceList":[]}}`, `{"event":{"sequenceList":3}}`,
	`{"event":{"sequenceList":"3"}}`, `{"event":{"sequenceList":[1,"2"]}}`, `{"event":{"sequenceList":[1.0]}}`,
	`{"event":{"sequenceList":[1234567890123456789]}}`, `{"event":{"type":"RichContentEvent","message":{"type":"vertical"}}}`,
	`{"event":{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"c","relativePath":"/p","fileType":"PNG"}}}`,
	`{"event":{"type":"ContentEvent","message":null,"content":null,"quickReplies":null}}`, `{"event":{"message":"a","message":"b"}}`,
	`{"event":{"message":"a\u0000b\u001f"}}`, "{\"event\":{\"message\":\"caf\xc3\xa9 \xe2\x80\xa8 \xed\xa0\x80\"}}",
	`{"sequence":5}`, `{"sequence":5,"Sequence":6}`, `{"sequence":-5}`, `{"sequence":null}`, `  {"sequence" : 5 }  `,
	`"OK"`, `"O\"K"`, `null`, `"\ud83d\ude00"`, `{"fileSize":5,"fileType":"PNG"}`,
	"{\"a\":" + string(bytes.Repeat([]byte("["), 100)) + string(bytes.Repeat([]byte("]"), 100)) + "}",
}

// goldenFrames returns the golden inputs and the benchmarks' frames.
func goldenFrames(t testing.TB) [][]byte {
	ins, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	out := [][]byte{benchNotification, benchPublish}
	for _, p := range ins {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// mutate changes one byte of b (replaces, deletes, or cuts there) with
// bytes that matter to a JSON reader.
func mutate(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	const specials = "\"\\{}[],: \n0-1neE.tu\xff\x00A"
	i := rng.IntN(len(b))
	out := bytes.Clone(b)
	switch rng.IntN(4) {
	case 0:
		return out[:i]
	case 1:
		return append(out[:i], out[i+1:]...)
	default:
		out[i] = specials[rng.IntN(len(specials))]
		return out
	}
}

func TestFastDecodeAgrees(t *testing.T) {
	for _, s := range decodeEdges {
		checkDecode(t, []byte(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, b := range goldenFrames(t) {
		checkDecode(t, b)
		for range 20 {
			checkDecode(t, mutate(rng, b))
		}
	}
}

// FuzzFastDecode checks, for arbitrary bytes as a frame and as a body,
// that the fast readers agree with encoding/json (value and error).
func FuzzFastDecode(f *testing.F) {
	for _, b := range goldenFrames(f) {
		f.Add(b)
	}
	for _, s := range decodeEdges {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

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

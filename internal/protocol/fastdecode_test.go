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

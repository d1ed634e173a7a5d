package inspector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ns lists the frames' numbers.
func ns(fs []Frame) []int64 {
	out := []int64{}
	for _, f := range fs {
		out = append(out, f.N)
	}
	return out
}

func frameData(i int) []byte {
	return fmt.Appendf(nil, `{"kind":"req","id":"%d","type":"GetClock"}`, i)
}

// TestInspectorRing: the ring keeps the newest frames, by count and by
// bytes; a watcher gets each frame once and learns how many it missed.
func TestInspectorRing(t *testing.T) {
	now := func() time.Time { return time.UnixMilli(0) }
	in := New(now, 3, 1<<20)
	ended := make(chan struct{})
	w := in.Watch(ended, nil)
	defer w.Close()

	for i := 1; i <= 5; i++ {
		in.Tap(true, frameData(i))
	}
	select {
	case <-w.Ready():
	default:
		t.Fatal("no ready signal after frames were recorded")
	}
	steps := []struct {
		name       string
		add        int
		wantN      []int64
		wantMissed int64
	}{
		{"first read: what is kept", 0, []int64{3, 4, 5}, 2},
		{"nothing new", 0, []int64{}, 0},
		{"one new", 1, []int64{6}, 0},
		{"watcher slower than the ring", 5, []int64{9, 10, 11}, 2},
	}
	next := 6
	for _, st := range steps {
		for range st.add {
			in.Tap(false, frameData(next))
			next++
		}
		fs, missed := w.Next()
		if diff := cmp.Diff(st.wantN, ns(fs)); diff != "" || missed != st.wantMissed {
			t.Errorf("%s: frames (-want +got):\n%s missed %d, want %d", st.name, diff, missed, st.wantMissed)
		}
	}
	if in.count != 3 || len(in.ring) != 3 {
		t.Errorf("ring holds %d frames in %d slots, want 3 in 3", in.count, len(in.ring))
	}

	// A closed watch is no longer signalled.
	w.Close()
	<-w.Ready() // the signal of the frames above
	in.Tap(true, frameData(99))
	select {
	case <-w.Ready():
		t.Error("a closed watch was signalled")
	default:
	}
}

// TestInspectorBytes: the ring also drops the oldest frames to stay under
// its byte bound, and cuts a frame larger than the bound.
func TestInspectorBytes(t *testing.T) {
	in := New(time.Now, 100, 100)
	for i := range 10 {
		in.Tap(true, []byte(fmt.Sprintf("%-40d", i))) // 40 bytes each
	}
	if in.count != 2 || in.bytes != 80 {
		t.Errorf("ring holds %d frames, %d bytes; want 2 frames, 80 bytes", in.count, in.bytes)
	}
	in.Tap(false, make([]byte, 500))
	if in.count != 1 || in.bytes != 100 {
		t.Errorf("after a large frame the ring holds %d frames, %d bytes; want 1 frame cut to 100 bytes", in.count, in.bytes)
	}
}

// TestInspectDescribes: kind, type, ids and code are read from the frame;
// the JSON is cut at maxPretty.
func TestInspectDescribes(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	tests := []struct {
		name string
		data string
		want Frame
	}{
		{"request", `{"kind":"req","id":"12","type":"ms.PublishEvent","body":{}}`,
			Frame{N: 1, Out: true, At: at, Kind: "req", Type: "ms.PublishEvent", ID: "12"}},
		{"response with a numeric id", `{"kind":"resp","reqId":12,"code":200,"type":"ms.PublishEventResponse"}`,
			Frame{N: 1, At: at, Kind: "resp", Type: "ms.PublishEventResponse", ID: "12", Code: 200}},
		{"notification", `{"kind":"notification","type":"ms.MessagingEventNotification","body":{}}`,
			Frame{N: 1, At: at, Kind: "notification", Type: "ms.MessagingEventNotification"}},
		{"not JSON", `hello`, Frame{N: 1, At: at, Type: "(not a JSON frame)"}},
		{"a receipt's publish", `{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":"C1","event":{"type":"AcceptStatusEvent","status":"READ","sequenceList":[ 3, 4 ]}}}`,
			Frame{N: 1, Out: true, At: at, Kind: "req", Type: "ms.PublishEvent", ID: "3", Summary: "AcceptStatusEvent READ [3,4]"}},
		{"a chat state", `{"kind":"req","id":"4","type":"ms.PublishEvent","body":{"event":{"type":"ChatStateEvent","chatState":"COMPOSING"}}}`,
			Frame{N: 1, Out: true, At: at, Kind: "req", Type: "ms.PublishEvent", ID: "4", Summary: "ChatStateEvent COMPOSING"}},
		{"messaging events", `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":0,"event":{"type":"ContentEvent"}},{"sequence":1,"event":{"type":"AcceptStatusEvent","status":"ACCEPT","sequenceList":0}},{"event":{"type":"ChatStateEvent","chatState":"ACTIVE"}},{"sequence":2,"event":{"type":"ContentEvent"}}]}}`,
			Frame{N: 1, At: at, Kind: "notification", Type: "ms.MessagingEventNotification", Summary: "seq 0 ContentEvent, seq 1 AcceptStatusEvent ACCEPT 0, ChatStateEvent ACTIVE, +1 more"}},
		{"an agent socket's event", `{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"dialogId":"C1","sequence":4,"event":{"type":"ContentEvent"}}}`,
			Frame{N: 1, At: at, Kind: "notification", Type: ".ams.ms.OnlineEventDistribution", Summary: "seq 4 ContentEvent"}},
		{"no type", `{"kind":"req","id":"1"}`, Frame{N: 1, Out: true, At: at, Kind: "req", ID: "1", Type: "(no type)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(1, tt.want.Out, at, []byte(tt.data))
			got.JSON = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Inspect (-want +got):\n%s", diff)
			}
		})
	}
	big := fmt.Appendf(nil, `{"kind":"notification","type":"x","body":"%s"}`, strings.Repeat("é", maxPretty))
	if f := Describe(1, false, at, big); len(f.JSON) > maxPretty+64 {
		t.Errorf("a large frame is shown in %d bytes, want at most about %d", len(f.JSON), maxPretty)
	}
}

// TestInspectorNilClock: an inspector made without a clock times its
// frames by time.Now, as lockout.New does: the owner's nil Now means the
// same everywhere.
func TestInspectorNilClock(t *testing.T) {
	in := New(nil, 3, 1<<20)
	w := in.Watch(make(chan struct{}), nil)
	defer w.Close()
	before := time.Now()
	in.Tap(true, frameData(1))
	fs, _ := w.Next()
	if len(fs) != 1 || fs[0].At.Before(before) || fs[0].At.After(time.Now()) {
		t.Fatalf("frames = %+v, want one timed between %v and now", fs, before)
	}
}

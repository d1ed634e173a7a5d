package window_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/web/pagesocket"
	"github.com/chatwindow/chatwindow/web/window"
)

// FuzzBrowserFrame feeds the browser socket's frame parser anything: it
// never panics, every refusal wraps ErrFrame, and every frame it accepts
// has a known type with the fields that type needs, within bounds, and
// re-encodes to a frame it accepts again as the same.
func FuzzBrowserFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","text":"hi"}`,
		`{"type":"retry","localId":"3"}`,
		`{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":4}]}`,
		`{"type":"typing","state":"COMPOSING"}`,
		`{"type":"csat","rate":"5"}`,
		`{"type":"csat","rate":3}`,
		`{"type":"action","dialogId":"C1","seq":"4","index":"1","text":"yes","HEADERS":{"HX-Request":"true"}}`,
		`{"type":"close"}`, `{"type":"new"}`,
		`not json`, ``, `null`, `[]`, `{}`, `{"type":5}`, `{"type":"explode"}`,
		`{"type":"typing","state":"PAUSE"}{"type":"send","text":"x"}`,
		"{\"type\":\"send\",\"text\":\"\xff\"}",
		`{"type":"action","dialogId":"C1","seq":99999999999999999999,"index":0}`,
		`{"type":"csat","rate":"-0"}`, `{"type":"action","dialogId":"C1","seq":"+4","index":"0"}`,
		`{"type":"csat","rate":"4","resolved":"yes"}`, `{"type":"csat","rate":"2","resolved":"no"}`,
		`{"type":"csat","status":"SKIPPED"}`, `{"type":"csat","rate":"4","resolved":"maybe"}`, `{"type":"csat","status":"FILLED","rate":"4"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := window.ParseBrowserFrame(data)
		if err != nil {
			if !errors.Is(err, window.ErrFrame) {
				t.Fatalf("refusal %v does not wrap ErrFrame", err)
			}
			return
		}
		checkAccepted(t, fr)
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-encode it: %v", data, err)
		}
		fr2, err := window.ParseBrowserFrame(again)
		if err != nil {
			t.Fatalf("accepted %q but not its re-encoding %s: %v", data, again, err)
		}
		if fr2.Type != fr.Type || fr2.Text != fr.Text {
			t.Fatalf("re-encoding changed the frame: %+v → %+v", fr, fr2)
		}
	})
}

func checkAccepted(t *testing.T, f window.BrowserFrame) {
	t.Helper()
	switch f.Type {
	case "send":
		if f.Text == "" {
			t.Fatal("send accepted without text")
		}
	case "retry":
		if f.LocalID == "" {
			t.Fatal("retry accepted without localId")
		}
	case "report":
		if f.Status != "delivered" && f.Status != "seen" {
			t.Fatalf("report accepted with status %q", f.Status)
		}
		if len(f.Items) == 0 || len(f.Items) > pagesocket.MaxReportItems {
			t.Fatalf("report accepted with %d items", len(f.Items))
		}
	case "typing":
		if f.State == "" {
			t.Fatal("typing accepted without state")
		}
	case "csat":
		r, err := f.Rating()
		if err != nil || (r.Skipped && (r.Rate != 0 || r.Resolved != nil)) || (!r.Skipped && (r.Rate < 1 || r.Rate > 5)) {
			t.Fatalf("csat accepted with rating %+v, %v", r, err)
		}
	case "action":
		seq, index, err := f.Action()
		if err != nil || seq < 0 || index < 0 || index > 1000 || f.DialogID == "" || len(f.DialogID) > 128 || len(f.Text) > relay.MaxText {
			t.Fatalf("action accepted: dialog %q seq %d index %d text of %d bytes, %v", f.DialogID, seq, index, len(f.Text), err)
		}
	case "close", "new":
	default:
		t.Fatalf("accepted unknown type %q", f.Type)
	}
}

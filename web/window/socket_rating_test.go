package window

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// TestParseRatingFrame: the rating form's frames (a rate, whether the
// question was resolved, or no rating) become what the customer chose;
// anything else is refused.
func TestParseRatingFrame(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		in   string
		want relay.Rating
		bad  bool
	}{
		{name: "rate and resolved (a ws-send form)", in: `{"type":"csat","rate":"4","resolved":"yes","HEADERS":{"HX-Request":"true"}}`, want: relay.Rating{Rate: 4, Resolved: &yes}},
		{name: "rate, not resolved", in: `{"type":"csat","rate":"2","resolved":"no"}`, want: relay.Rating{Rate: 2, Resolved: &no}},
		{name: "rate only (a number)", in: `{"type":"csat","rate":5}`, want: relay.Rating{Rate: 5}},
		{name: "no rating", in: `{"type":"csat","status":"SKIPPED"}`, want: relay.Rating{Skipped: true}},
		{name: "no rate", in: `{"type":"csat","resolved":"yes"}`, bad: true},
		{name: "rate out of range", in: `{"type":"csat","rate":"6"}`, bad: true},
		{name: "resolved neither yes nor no", in: `{"type":"csat","rate":"4","resolved":"maybe"}`, bad: true},
		{name: "another status", in: `{"type":"csat","rate":"4","status":"FILLED"}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseBrowserFrame([]byte(tt.in))
			if tt.bad {
				if !errors.Is(err, pagesocket.ErrFrame) {
					t.Fatalf("err = %v, want pagesocket.ErrFrame", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.rating()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rating (-want +got):\n%s", diff)
			}
		})
	}
}

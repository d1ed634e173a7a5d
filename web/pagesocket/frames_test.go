package pagesocket_test

import (
	"errors"
	"testing"

	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// TestDecode: a page's frame is one JSON object and nothing else, for
// every surface (the console's once took what followed the first value).
func TestDecode(t *testing.T) {
	tests := []struct {
		name, frame string
		ok          bool
	}{
		{"an object", `{"type":"send","text":"hi"}`, true},
		{"with spaces after", "{\"type\":\"x\"} \n", true},
		{"trailing data", `{"type":"send"}{"type":"close"}`, false},
		{"trailing garbage", `{"type":"send"} x`, false},
		{"not JSON", `hello`, false},
		{"empty", ``, false},
		{"truncated", `{"type":`, false},
		{"a string", `"send"`, false},
		{"a field of the wrong type", `{"type":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			err := pagesocket.Decode([]byte(tt.frame), &f)
			if (err == nil) != tt.ok {
				t.Errorf("Decode(%q) = %v, want ok %v", tt.frame, err, tt.ok)
			}
			if err != nil && !errors.Is(err, pagesocket.ErrFrame) {
				t.Errorf("the refusal %v does not wrap ErrFrame", err)
			}
		})
	}
}

package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestTranscript: the customer downloads the conversation as text and as a
// page: an attachment with the customer's messages, escaped in the page,
// which carries nothing that runs. Without a conversation, or in another
// format, a clear error.
func TestTranscript(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	if resp, _ := get(t, hc, site.URL+"/transcript"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a transcript with no cookie: %s, want 404", resp.Status)
	}
	startSession(t, site, hc)
	tab := openTab(t, site, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tab.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"<script>alert(1)</script> & a second\nline"}`)); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(ctx, tab, `data-testid="transcript"`); err != nil {
		t.Fatalf("the conversation did not open with its download link: %v", err)
	}

	tests := []struct {
		query, status, kind, file string
		has, hasNot               []string
	}{
		{"", "200 OK", "text/plain; charset=utf-8", `attachment; filename="conversation-`, []string{"You: <script>alert(1)</script> & a second\n    line"}, nil},
		{"?format=html", "200 OK", "text/html; charset=utf-8", `.html"`, []string{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; a second", "<bdi>You</bdi>"}, []string{"<script>"}},
		{"?format=pdf", "400 Bad Request", "", "", nil, nil},
	}
	for _, tt := range tests {
		resp, body := get(t, hc, site.URL+"/transcript"+tt.query)
		if resp.Status != tt.status {
			t.Errorf("%s: %s, want %s", tt.query, resp.Status, tt.status)
			continue
		}
		if tt.kind == "" {
			continue
		}
		if got := resp.Header.Get("Content-Type"); !strings.EqualFold(got, tt.kind) {
			t.Errorf("%s: Content-Type %q, want %q", tt.query, got, tt.kind)
		}
		if got := resp.Header.Get("Content-Disposition"); !strings.Contains(got, tt.file) {
			t.Errorf("%s: Content-Disposition %q, want %q in it", tt.query, got, tt.file)
		}
		for _, s := range tt.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s: %q not in\n%s", tt.query, s, body)
			}
		}
		for _, s := range tt.hasNot {
			if strings.Contains(body, s) {
				t.Errorf("%s: %q in\n%s", tt.query, s, body)
			}
		}
	}
}

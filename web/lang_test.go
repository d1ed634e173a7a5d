package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/relay"
)

// TestPageLanguage: the window speaks the language the embedding page asks
// for (?lang=), else the best of the browser's it speaks, else English,
// with its direction; its socket's fragments speak the same.
func TestPageLanguage(t *testing.T) {
	site := newSite(t)
	tests := []struct {
		query, accept, lang, dir, says string
	}{
		{"", "", "en", "ltr", "Type a message"},
		{"", "fr-FR, es;q=0.8, en;q=0.5", "es", "ltr", "Escribe un mensaje"},
		{"", "de-CH", "de", "ltr", "Nachricht eingeben"},
		{"?lang=he", "de", "he", "rtl", "כתבו הודעה"},
		{"?lang=xx", "de", "de", "ltr", "Nachricht eingeben"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, site.URL+"/"+tt.query, nil)
		if tt.accept != "" {
			req.Header.Set("Accept-Language", tt.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if want := `<html lang="` + tt.lang + `" dir="` + tt.dir + `">`; !strings.Contains(body, want) {
			t.Errorf("%q %q: no %s", tt.query, tt.accept, want)
		}
		if !strings.Contains(body, tt.says) {
			t.Errorf("%q %q: the page does not say %q", tt.query, tt.accept, tt.says)
		}
		if tt.lang == "he" && !strings.Contains(body, `data-say-reconnecting="החיבור אבד. מתחבר מחדש…"`) {
			t.Errorf("the Hebrew page does not give chat.js its texts in Hebrew")
		}
	}

	// The socket of a page asked for Hebrew renders Hebrew.
	hc := client(t)
	startSession(t, site, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws?lang=he", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {site.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := readUntil(ctx, c, "כתבו הודעה"); err != nil {
		t.Errorf("the Hebrew page's socket: %v", err)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFragmentLanguage: what a session renders later speaks its language:
// the announcement (with a name in it) and the session's notice.
func TestFragmentLanguage(t *testing.T) {
	r := rendererWithKeys(t, sessionKeys)
	v := relay.View{UI: "de", Phase: relay.PhaseOpen, Notice: "Your chat expired at the chat service, or the service restarted, and this conversation could not be kept. Write to start a new one."}
	b, err := r.Change(v, relay.Change{Announce: "Ann left the conversation. Transferring you to another agent."})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ann hat die Unterhaltung verlassen. Sie werden an einen anderen Berater weitergeleitet."; !strings.Contains(string(b), want) {
		t.Errorf("the announcement is not in German: %s", b)
	}
	b, err = r.Window(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ihr Chat ist beim Chat-Dienst abgelaufen"; !strings.Contains(string(b), want) {
		t.Errorf("the notice is not in German: %s", b)
	}
}

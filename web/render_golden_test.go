package web_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/web/console"
)

// TestRenderGolden locks the bytes the renderers send to tabs and desks
// (web.Renderer, web.ConsoleRenderer): changes made to render them faster
// must not change what they render. The files in testdata/render were
// written by the renderers before any such change; rewrite them with
// CHATWINDOW_UPDATE_GOLDEN=1 only for a change of markup that is meant.
func TestRenderGolden(t *testing.T) {
	r := testRenderer(t)
	cr := console.NewRenderer()
	window := func(s string, mod func(*relay.View)) func() ([]byte, error) {
		return func() ([]byte, error) {
			v, _ := windowWith(t, s)
			mod(&v)
			return r.Window(v)
		}
	}
	change := func(s string, mod func(*relay.View, *relay.Change)) func() ([]byte, error) {
		return func() ([]byte, error) {
			v, ch := windowWith(t, s)
			mod(&v, &ch)
			return r.Change(v, ch)
		}
	}
	same := func(*relay.View) {}
	all := func(*relay.View, *relay.Change) {}
	phase := func(p relay.Phase, rating int) func(*relay.View, *relay.Change) {
		return func(v *relay.View, ch *relay.Change) {
			v.Phase, v.Rating = p, rating
			*ch = relay.Change{Phase: true}
		}
	}
	tests := []struct {
		name   string
		render func() ([]byte, error)
	}{
		{"window", window("plain", same)},
		{"window-hostile", window(hostile, same)},
		{"window-notice-reconnecting", window("plain", func(v *relay.View) {
			v.Notice, v.Connection, v.Typing = "The chat service restarted.", messaging.StateReconnecting, false
		})},
		{"window-closed-offline", window("plain", func(v *relay.View) { v.Phase, v.Connection = relay.PhaseClosed, messaging.StateOffline })},
		{"window-rated-connecting", window("plain", func(v *relay.View) { v.Phase, v.Rating, v.Connection = relay.PhaseRated, 4, messaging.StateConnecting })},
		{"window-100", func() ([]byte, error) { return r.Window(benchWindow(t, 100)) }},
		{"change-all", change("plain", all)},
		{"change-all-hostile", change(hostile, all)},
		{"change-reset", change("plain", func(_ *relay.View, ch *relay.Change) { ch.Reset = true })},
		{"change-open", change("plain", phase(relay.PhaseOpen, 0))},
		{"change-closed", change("plain", phase(relay.PhaseClosed, 0))},
		{"change-rated", change("plain", phase(relay.PhaseRated, 5))},
		{"change-rated-skipped", change("plain", phase(relay.PhaseRated, 0))},
		{"change-survey", change("plain", phase(relay.PhaseSurvey, 0))},
		{"change-ended", change("plain", phase(relay.PhaseEnded, 0))},
		{"change-card-answered", change("plain", func(v *relay.View, ch *relay.Change) {
			card := v.Messages[1]
			card.Answered, card.Chosen, card.RepliesOpen = true, 0, false
			*ch = relay.Change{Updated: []relay.Message{card}}
		})},
		{"change-agent-text", func() ([]byte, error) { v, ch := agentTextChange(t); return r.Change(v, ch) }},
		{"change-customer-ticks", func() ([]byte, error) { v, ch := customerTicksChange(t); return r.Change(v, ch) }},
		{"change-agent-links", func() ([]byte, error) { v, ch := agentLinksChange(t); return r.Change(v, ch) }},
		{"console-desk", func() ([]byte, error) { v, _ := deskWith("plain"); return cr.Desk(v) }},
		{"console-desk-hostile", func() ([]byte, error) { v, _ := deskWith(hostile); return cr.Desk(v) }},
		{"console-change", func() ([]byte, error) { v, ch := deskWith("plain"); return cr.Change(v, ch) }},
		{"console-change-hostile", func() ([]byte, error) { v, ch := deskWith(hostile); return cr.Change(v, ch) }},
		{"console-signed-out", cr.SignedOut},
	}
	tests = append(tests, messageGoldens(t, r)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "render", tt.name+".html")
			if os.Getenv("CHATWINDOW_UPDATE_GOLDEN") == "1" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (write it with CHATWINDOW_UPDATE_GOLDEN=1)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the rendering of %s changed (-want +got):\n%s", tt.name, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

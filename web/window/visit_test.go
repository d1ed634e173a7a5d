package window

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/hours"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
)

// TestPageLanguage: the language of a SharkContext is the tag the browser
// prefers most; nonsense is skipped, not passed on.
func TestPageLanguage(t *testing.T) {
	tests := map[string]string{
		"":                               "",
		"fr-CH, fr;q=0.9, en;q=0.8":      "fr-CH",
		"en;q=0.5, de-DE;q=0.8, *;q=0.1": "de-DE",
		"*":                              "",
		"de;q=0.7,es;q=0.7":              "de",
		"zh-Hant-TW":                     "zh-Hant-TW",
		"en-US;q=2, it":                  "it",
		"<script>, pt-BR;q=0.4":          "pt-BR",
		"x" + strings.Repeat("y", 40):    "",
		"1en, sr-Latn":                   "sr-Latn",
	}
	for in, want := range tests {
		if got := pageLanguage(in); got != want {
			t.Errorf("pageLanguage(%q) = %q, want %q", in, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/ws", nil)
	r.Header.Set("User-Agent", strings.Repeat("M", 2000))
	r.Header.Set("Accept-Language", "nl-BE,nl;q=0.9")
	if v := visitOf(r); len(v.UserAgent) != maxUserAgent || v.Language != "nl-BE" {
		t.Errorf("visit of %d bytes of user agent, language %q", len(v.UserAgent), v.Language)
	}
}

// TestQueueProps: the header of a customer waiting for an agent.
func TestQueueProps(t *testing.T) {
	opens := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    relay.View
		want views.Agent
	}{
		{"an agent", relay.View{Phase: relay.PhaseOpen, AgentName: "Ann", Queue: relay.Queue{TTR: time.Hour}}, views.Agent{Name: "Ann"}},
		{"no conversation yet", relay.View{Phase: relay.PhaseNew, Queue: relay.Queue{TTR: time.Hour}}, views.Agent{}},
		{"waiting an hour", relay.View{Phase: relay.PhaseOpen, Queue: relay.Queue{TTR: time.Hour}}, views.Agent{Wait: "1 hour"}},
		{"waiting 90 s", relay.View{Phase: relay.PhaseOpen, Queue: relay.Queue{TTR: 90 * time.Second}}, views.Agent{Wait: "2 minutes"}},
		{"transferred", relay.View{Phase: relay.PhaseOpen, Queue: relay.Queue{Left: "Ann", Transferring: true, TTR: 30 * time.Second}},
			views.Agent{Left: "Ann", Transferring: true, Wait: "a minute"}},
		{"closed", relay.View{Phase: relay.PhaseOpen, Queue: relay.Queue{TTR: 3 * 24 * time.Hour, ClosedUntil: opens}},
			views.Agent{Wait: "3 days", ClosedUntil: "Mon 6 Jan 09:00 UTC", ClosedUntilISO: "2025-01-06T09:00:00Z"}},
		{"ended", relay.View{Phase: relay.PhaseClosed, Queue: relay.Queue{Left: "Ann"}}, views.Agent{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, agentProps(tt.v, nil, opens)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestOfficeHoursProps: outside the office hours the header says when
// agents answer, before any conversation and while one waits; the
// service's own delay wins; an agent, or the hours, say nothing of it.
func TestOfficeHoursProps(t *testing.T) {
	office, err := hours.Parse("Mon-Fri 09:00-17:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	saturday := time.Date(2025, 1, 4, 12, 0, 0, 0, time.UTC)
	monday := views.Agent{ClosedUntil: "Mon 6 Jan 09:00 UTC", ClosedUntilISO: "2025-01-06T09:00:00Z"}
	tests := []struct {
		name string
		v    relay.View
		at   time.Time
		want views.Agent
	}{
		{"closed, no conversation yet", relay.View{Phase: relay.PhaseNew}, saturday, monday},
		{"closed, waiting", relay.View{Phase: relay.PhaseOpen}, saturday, monday},
		{"the service's delay wins", relay.View{Phase: relay.PhaseOpen, Queue: relay.Queue{ClosedUntil: time.Date(2025, 1, 7, 8, 0, 0, 0, time.UTC)}}, saturday,
			views.Agent{ClosedUntil: "Tue 7 Jan 08:00 UTC", ClosedUntilISO: "2025-01-07T08:00:00Z"}},
		{"open hours", relay.View{Phase: relay.PhaseNew}, time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC), views.Agent{}},
		{"an agent", relay.View{Phase: relay.PhaseOpen, AgentName: "Ann"}, saturday, views.Agent{Name: "Ann"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, agentProps(tt.v, office, tt.at)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

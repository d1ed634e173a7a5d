package i18n

import (
	"strings"
	"testing"
	"time"
)

// TestCatalogue: every language translates every string, keeps its
// placeholders, and has nothing the window does not use.
func TestCatalogue(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys {
		if keys[k] {
			t.Errorf("%q listed twice", k)
		}
		keys[k] = true
	}
	for _, l := range All[1:] {
		for _, k := range Keys {
			tr, ok := l.strings[k]
			switch {
			case !ok || strings.TrimSpace(tr) == "":
				t.Errorf("%s: no translation of %q", l.Tag, k)
			case strings.Count(tr, "%s") != strings.Count(k, "%s") || strings.Count(tr, "%") != strings.Count(k, "%"):
				t.Errorf("%s: %q keeps not the placeholders of %q", l.Tag, tr, k)
			}
		}
		for k := range l.strings {
			if !keys[k] {
				t.Errorf("%s: %q is not a string of the window", l.Tag, k)
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct{ explicit, accept, want string }{
		{"", "", "en"},
		{"", "de-CH, de;q=0.9, en;q=0.8", "de"},
		{"", "fr-FR, fr;q=0.9, es;q=0.5", "es"},
		{"", "en;q=0.2, he;q=0.9", "he"},
		{"", "iw-IL", "he"},
		{"", "fr, it", "en"},
		{"", "de;q=0, es;q=0.1", "es"},
		{"", "de;q=nonsense, es;q=0.1", "es"},
		{"he", "de", "he"},
		{"xx", "de", "de"},
		{"", "*", "en"},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.explicit, tt.accept); got.Tag != tt.want {
			t.Errorf("Negotiate(%q, %q) = %s, want %s", tt.explicit, tt.accept, got.Tag, tt.want)
		}
	}
	if Hebrew.Dir() != "rtl" || German.Dir() != "ltr" {
		t.Error("directions")
	}
}

func TestTranslate(t *testing.T) {
	if got := Spanish.F("You are chatting with %s", "Ana"); got != "Estás hablando con Ana" {
		t.Errorf("Spanish.F = %q", got)
	}
	if got := English.T("Send"); got != "Send" {
		t.Errorf("English.T = %q", got)
	}
	if got := German.T("not a string of the window"); got != "not a string of the window" {
		t.Errorf("an unknown string = %q, want it as it is", got)
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		l    Lang
		d    time.Duration
		want string
	}{
		{English, 0, ""},
		{English, 30 * time.Second, "a minute"},
		{English, 90 * time.Second, "2 minutes"},
		{English, time.Hour, "1 hour"},
		{English, 3 * 24 * time.Hour, "3 days"},
		{Spanish, 10 * time.Minute, "10 minutos"},
		{German, time.Minute, "einer Minute"},
		{German, 2 * time.Hour, "2 Stunden"},
		{Hebrew, 5 * time.Minute, "5 דקות"},
	}
	for _, tt := range tests {
		if got := tt.l.Wait(tt.d); got != tt.want {
			t.Errorf("%s.Wait(%s) = %q, want %q", tt.l.Tag, tt.d, got, tt.want)
		}
	}
}

func TestSentences(t *testing.T) {
	tests := []struct {
		l          Lang
		text, want string
	}{
		{Spanish, "New message", "Mensaje nuevo"},
		{German, "Ann left the conversation. Transferring you to another agent.", "Ann hat die Unterhaltung verlassen. Sie werden an einen anderen Berater weitergeleitet."},
		{Spanish, "Your agent left the conversation.", "Tu agente salió de la conversación."},
		{Hebrew, "Something the catalogue lacks. The conversation has ended.", "Something the catalogue lacks. השיחה הסתיימה."},
		{English, "Ann left the conversation.", "Ann left the conversation."},
	}
	for _, tt := range tests {
		if got := tt.l.Sentences(tt.text); got != tt.want {
			t.Errorf("%s.Sentences(%q) = %q, want %q", tt.l.Tag, tt.text, got, tt.want)
		}
	}
}

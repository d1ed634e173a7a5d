package window

import (
	"net/http"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/hours"
	"github.com/chatwindow/chatwindow/internal/i18n"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
)

// visitOf is what a tab's request says of the customer's browser: its
// User-Agent (the session's client properties) and the page's language,
// the best of its Accept-Language (its conversations' SharkContext).
func visitOf(r *http.Request) relay.Visit {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	accept := r.Header.Get("Accept-Language")
	return relay.Visit{UserAgent: ua, Language: pageLanguage(accept), UI: pageUI(r).Tag}
}

// maxUserAgent bounds what is kept of a User-Agent (real ones are a few
// hundred bytes).
const maxUserAgent = 512

// pageLanguage is the language tag the browser prefers most (highest q,
// the first of equals), or "" when it names none: "fr-CH, fr;q=0.9,
// en;q=0.8" is "fr-CH". Tags that are not BCP 47-shaped and "*" are
// skipped.
func pageLanguage(accept string) string { return i18n.Preferred(accept, languageTag) }

// languageTag reports whether tag looks like a BCP 47 tag: subtags of 1 to
// 8 letters or digits, the first letters only, 35 characters at most.
func languageTag(tag string) bool {
	if tag == "" || len(tag) > 35 {
		return false
	}
	for i, sub := range strings.Split(tag, "-") {
		if sub == "" || len(sub) > 8 {
			return false
		}
		for _, r := range sub {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !letter && (i == 0 || r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// agentProps is the window's header at now: the assigned agent, or what
// the customer waiting for one is told (while the conversation is new or
// open): who left, a transfer, and when agents answer: the service's delay
// or, before it says, the office hours (Config.Hours).
func agentProps(v relay.View, office *hours.Schedule, now time.Time) views.Agent {
	a := views.Agent{Name: v.AgentName, Survey: v.Phase == relay.PhaseSurvey}
	if a.Name != "" || (v.Phase != relay.PhaseOpen && v.Phase != relay.PhaseNew) {
		return a
	}
	q := v.Queue
	until := q.ClosedUntil
	if until.IsZero() && !office.Open(now) {
		until = office.Next(now)
	}
	if !until.IsZero() {
		a.ClosedUntil, a.ClosedUntilISO = closedUntil(until)
	}
	if v.Phase == relay.PhaseOpen {
		a.Left, a.Transferring = q.Left, q.Transferring
		a.Wait = i18n.Negotiate(v.UI, "").Wait(q.TTR)
	}
	return a
}

// closedUntil is when the contact center opens, in UTC with its day (the
// server knows no zone of the customer's): "Mon 6 Jan 09:00 UTC".
func closedUntil(t time.Time) (text, iso string) {
	clock, iso := views.Clock(t)
	return t.UTC().Format("Mon 2 Jan") + " " + clock + " UTC", iso
}

// pageUI is the language the window speaks to the customer of r: the one
// the embedding page asks for (?lang=, docs/embedding.md), else the best of
// the browser's that the window speaks (internal/i18n).
func pageUI(r *http.Request) i18n.Lang {
	return i18n.Negotiate(r.URL.Query().Get(langParam), r.Header.Get("Accept-Language"))
}

// langParam names the language the embedding page asks for, on the
// window's URL and, passed on, its socket's.
const langParam = "lang"

// socketURL is the page's socket, which speaks the language the page was
// asked for.
func socketURL(r *http.Request) string {
	if l := r.URL.Query().Get(langParam); l != "" {
		if ui, ok := i18n.ByTag(l); ok {
			return "/ws?" + langParam + "=" + ui.Tag
		}
	}
	return "/ws"
}

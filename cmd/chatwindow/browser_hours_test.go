package main

import (
	"strings"
	"testing"
	"time"
)

// TestBrowserOfficeHours: outside the office hours (-hours) a fresh window
// says, before the customer writes, that nobody answers now and when
// agents will: on which day, in the customer's own clock.
func TestBrowserOfficeHours(t *testing.T) {
	needBrowser(t)
	// Open only on the day after tomorrow: closed now, whatever the time.
	day := time.Now().UTC().AddDate(0, 0, 2).Weekday().String()[:3]
	own := ownProgram(t, "-bot-delay", "0", "-hours", day+" 09:00-17:00", "-hours-zone", "UTC")
	p := newCustomer(t)
	p.load(own.chatURL + "/")
	p.waitJS("the closed note", `(() => {
		const w = document.querySelector('[data-testid="queue-wait"]');
		return !!w && w.textContent.includes("closed") && !!w.querySelector("time[data-day]");
	})()`)
	shown := eval[string](p, `document.querySelector('[data-testid="queue-wait"] time').textContent`)
	want := eval[string](p, `new Date(document.querySelector('[data-testid="queue-wait"] time').getAttribute("datetime")).toLocaleString([], {weekday: "short"})`)
	if !strings.Contains(shown, want) {
		t.Errorf("the opening time shows %q, want its day %q in it", shown, want)
	}
}

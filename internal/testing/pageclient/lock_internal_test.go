package pageclient

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
)

// testTab is a tab of b showing doc, without a socket: its reports are
// collected, not sent. The bubbles of doc count as reported, as a page's
// before its socket opened.
func testTab(b *Browser, doc *goquery.Document) *Tab {
	markReported(doc)
	t := &Tab{b: b, doc: doc, socket: "open", visible: true, changed: make(chan struct{})}
	b.mu.Lock()
	b.tabs = append(b.tabs, t)
	b.mu.Unlock()
	return t
}

// applyFrame applies a frame from the server to tab and returns what the
// tab reports after it.
func applyFrame(t *testing.T, tab *Tab, frame string) (delivered, seen []Item) {
	t.Helper()
	frag, err := goquery.NewDocumentFromReader(strings.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	b := tab.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	tab.applyLocked(frag)
	tab.fresh = false
	b.considerLocked(tab, false, now)
	tab.lookLocked(now)
	return tab.collectLocked(now)
}

// reported is what every tab of b reports now, by tab name.
func reported(b *Browser, names map[*Tab]string, now time.Time) map[string][]Item {
	out := map[string][]Item{}
	for _, t := range b.tabs {
		t.lookLocked(now)
		d, s := t.collectLocked(now)
		if len(d) > 0 {
			out[names[t]+" delivered"] = d
		}
		if len(s) > 0 {
			out[names[t]+" seen"] = s
		}
	}
	return out
}

const lockPage = `<main><div id="connection" data-state="connecting"></div><ol id="messages"></ol></main>`

func bubble(seq string) string {
	return `<li id="m-d-` + seq + `" data-testid="message" data-from="agent" data-dialog-id="d" data-seq="` + seq + `"><p class="message-text">m` + seq + `</p></li>`
}

// window is the frame a socket sends first: the banner and the list.
func window(seqs ...string) string {
	var list strings.Builder
	for _, s := range seqs {
		list.WriteString(bubble(s))
	}
	return `<div id="connection" data-state="open"></div><ol id="messages" hx-swap-oob="innerHTML">` + list.String() + `</ol>`
}

// TestDeliveryLock: with locks, one tab of the browser reports: the first
// one ready, until the focused tab takes the lock, which reports once the
// hand-off is over; a holder whose socket drops passes it to the next in
// line. Without locks, every tab reports.
func TestDeliveryLock(t *testing.T) {
	b := NewBrowser(nil, BrowserOptions{Locks: true, Handoff: time.Hour})
	names := map[*Tab]string{}
	tabs := map[string]*Tab{}
	for _, n := range []string{"A", "B", "C"} {
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(lockPage))
		if err != nil {
			t.Fatal(err)
		}
		tab := testTab(b, doc)
		tab.fresh = true
		names[tab], tabs[n] = n, tab
	}
	A, B, C := tabs["A"], tabs["B"], tabs["C"]
	item := func(seqs ...int64) []Item {
		var out []Item
		for _, s := range seqs {
			out = append(out, Item{"d", s})
		}
		return out
	}
	check := func(step string, want map[string][]Item, holder *Tab, ready bool) {
		t.Helper()
		b.mu.Lock()
		defer b.mu.Unlock()
		if diff := cmp.Diff(want, reported(b, names, time.Now())); diff != "" {
			t.Errorf("%s: reports (-want +got):\n%s", step, diff)
		}
		if b.holder != holder || (holder != nil && holder.ready != ready) {
			t.Errorf("%s: holder %s (ready %v), want %s (ready %v)", step, names[b.holder], b.holder != nil && b.holder.ready, names[holder], ready)
		}
	}

	// Nobody focused: the first tab whose window came takes the lock and,
	// nobody having reported yet, reports at once; the others wait in line.
	b.focused = nil
	d, _ := applyFrame(t, A, window("1"))
	if diff := cmp.Diff(item(1), d); diff != "" {
		t.Errorf("the first tab's reports (-want +got):\n%s", diff)
	}
	for _, tab := range []*Tab{B, C} {
		if d, s := applyFrame(t, tab, window("1")); len(d)+len(s) != 0 {
			t.Errorf("tab %s, waiting in line, reported %v %v", names[tab], d, s)
		}
	}
	check("in line", map[string][]Item{}, A, true)
	for _, tab := range []*Tab{A, B, C} {
		applyFrame(t, tab, `<div hx-swap-oob="beforeend:#messages">`+bubble("2")+`</div>`)
	}
	if got := A.stats.Delivered; got != 2 {
		t.Errorf("the holder reported %d delivered, want 2", got)
	}
	for _, tab := range []*Tab{B, C} {
		if got := tab.stats.Delivered; got != 0 {
			t.Errorf("tab %s reported %d delivered, want none", names[tab], got)
		}
	}

	// C gains focus: it takes the lock and waits for the hand-off; A waits
	// in line again, after B.
	b.mu.Lock()
	now := time.Now()
	b.last = now
	b.focused = C
	b.considerLocked(C, true, now)
	b.mu.Unlock()
	check("stolen", map[string][]Item{}, C, false)
	if s := b.Stats(); s != (BrowserStats{Grants: 2, Steals: 1}) {
		t.Errorf("lock stats %+v", s)
	}

	// The hand-off is over: C reports everything (its node drops what A
	// published), and, focused and visible, sees it too.
	b.mu.Lock()
	b.last = time.Now().Add(-2 * time.Hour)
	b.handoffOverLocked(C, C.gen, time.Now())
	b.mu.Unlock()
	check("handed off", map[string][]Item{"C delivered": item(1, 2), "C seen": item(1, 2)}, C, true)

	// C's socket drops: the lock goes to B, first in line, which waits for
	// the hand-off after C's reports.
	b.mu.Lock()
	C.socket = "reconnecting"
	b.considerLocked(C, false, time.Now())
	b.mu.Unlock()
	check("dropped", map[string][]Item{}, B, false)
	if len(b.line) != 1 || b.line[0] != A {
		t.Errorf("%d tabs in line, want A alone", len(b.line))
	}

	// Without locks every tab reports; seen only from the focused one.
	free := NewBrowser(nil, BrowserOptions{})
	x, y := testTab(free, mustDoc(t, lockPage)), testTab(free, mustDoc(t, lockPage))
	free.focused = y
	dx, sx := applyFrame(t, x, window("1"))
	dy, sy := applyFrame(t, y, window("1"))
	if diff := cmp.Diff([][]Item{item(1), nil, item(1), item(1)}, [][]Item{dx, sx, dy, sy}); diff != "" {
		t.Errorf("without locks: delivered and seen of x and y (-want +got):\n%s", diff)
	}
}

// TestDwell: a bubble is seen once its tab has been visible and focused
// for the dwell; losing focus starts it over.
func TestDwell(t *testing.T) {
	b := NewBrowser(nil, BrowserOptions{Dwell: time.Hour})
	tab := testTab(b, mustDoc(t, lockPage))
	b.focused = tab
	applyFrame(t, tab, window("1"))
	b.mu.Lock()
	defer b.mu.Unlock()
	start := time.Now()
	tab.lookLocked(start.Add(59 * time.Minute))
	if _, s := tab.collectLocked(start); len(s) != 0 {
		t.Errorf("seen before the dwell: %v", s)
	}
	b.focused = nil
	tab.lookLocked(start.Add(59 * time.Minute))
	b.focused = tab
	tab.lookLocked(start.Add(61 * time.Minute)) // attentive again from here
	if _, s := tab.collectLocked(start); len(s) != 0 {
		t.Errorf("seen although focus was lost during the dwell: %v", s)
	}
	tab.lookLocked(start.Add(122 * time.Minute))
	if _, s := tab.collectLocked(start); len(s) != 1 {
		t.Errorf("seen %v after a whole dwell, want the bubble", s)
	}
	if tab.dwell != nil {
		tab.dwell.Stop()
	}
}

func mustDoc(t *testing.T, html string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

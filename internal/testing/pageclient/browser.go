package pageclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// Handoff is how long a tab that got the delivery lock waits after the
// browser's last report before it reports (chat.js's HANDOFF): the
// previous holder's batch, its node's publish and the echo reaching the
// other nodes, with room to spare.
const Handoff = time.Second

// Dwell is how long chat.js wants a bubble in front of the customer before
// it counts as seen (its DWELL).
const Dwell = 600 * time.Millisecond

// BrowserOptions says what kind of browser plays the customer.
type BrowserOptions struct {
	// Locks: the browser has navigator.locks (a secure origin: https, or
	// http on localhost), so only the tab holding the delivery lock
	// reports, as chat.js does. Without, every tab reports (chat.js's
	// fallback): two tabs on two nodes may both publish a receipt.
	Locks bool
	// Handoff replaces the package's Handoff (0: Handoff).
	Handoff time.Duration
	// Dwell: how long a bubble must have been in front of the customer
	// (its tab visible and focused) to count as seen; 0: at once. The
	// model has no scrolling: every bubble of the page is in view.
	Dwell time.Duration
	// UserAgent and AcceptLanguage, when set, are the browser's headers on
	// its tabs' sockets.
	UserAgent, AcceptLanguage string
}

// Browser is one customer's browser: what its tabs of the window share.
// The cookie jar (so one session); focus, which at most one tab has (seen
// needs it); and the delivery lock of chat.js (with Locks): the one tab
// that reports, held while its socket is open and its banner says the
// upstream is open, taken by the focused tab from the holder, and used
// only Handoff after the browser's last report.
type Browser struct {
	jar  http.CookieJar
	opts BrowserOptions

	// mu guards the browser and every one of its tabs' state.
	mu      sync.Mutex
	tabs    []*Tab // open, and reloading
	focused *Tab
	holder  *Tab
	line    []*Tab    // tabs waiting for the lock, in order
	last    time.Time // the last report of any tab (chat.js: localStorage)
	stats   BrowserStats
}

// BrowserStats counts what happened to the delivery lock.
type BrowserStats struct {
	Grants int // the lock given to a tab
	Steals int // of those, taken from the holder by a focused tab
}

// NewBrowser returns a browser with the cookies in jar (nil: a new
// customer's, empty).
func NewBrowser(jar http.CookieJar, opts BrowserOptions) *Browser {
	if jar == nil {
		jar, _ = cookiejar.New(nil) // never fails with no options
	}
	if opts.Handoff <= 0 {
		opts.Handoff = Handoff
	}
	return &Browser{jar: jar, opts: opts}
}

// Blur is the browser's window losing focus: no tab has it.
func (b *Browser) Blur() {
	b.update(func(time.Time) { b.focused = nil })
}

// Holder returns the tab holding the delivery lock (nil: none, or the
// browser has no locks).
func (b *Browser) Holder() *Tab {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holder
}

// Stats returns what happened to the delivery lock so far.
func (b *Browser) Stats() BrowserStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// outgoing is report frames for a tab to send.
type outgoing struct {
	t      *Tab
	frames [][]byte
}

// update runs fn (if any) under the browser's lock, then lets every tab
// look at its page (the dwell) and report what became due, outside the
// lock.
func (b *Browser) update(fn func(now time.Time)) {
	b.mu.Lock()
	now := time.Now()
	if fn != nil {
		fn(now)
	}
	out := b.settleLocked(now)
	b.mu.Unlock()
	for _, o := range out {
		o.t.sendReports(o.frames)
	}
}

func (b *Browser) settleLocked(now time.Time) []outgoing {
	var out []outgoing
	for _, t := range b.tabs {
		t.lookLocked(now)
	}
	for _, t := range b.tabs {
		delivered, seen := t.collectLocked(now)
		if frames := append(reports("delivered", delivered), reports("seen", seen)...); len(frames) > 0 {
			out = append(out, outgoing{t, frames})
		}
	}
	return out
}

// --- the delivery lock (chat.js's considerLock and friends) ------------------

// considerLocked takes the lock for t when it may report and lets it go
// when it may not. An attentive tab that asks anew takes it from the
// holder; one already waiting in line does so only when it gains focus or
// becomes visible (focusGained).
func (b *Browser) considerLocked(t *Tab, focusGained bool, now time.Time) {
	if !b.opts.Locks {
		return
	}
	if !t.eligibleLocked() {
		b.dropLocked(t, now)
		return
	}
	if b.holder == t {
		return
	}
	if slices.Contains(b.line, t) {
		if !focusGained || !t.attentiveLocked() {
			return
		}
		b.dropLocked(t, now)
	}
	b.requestLocked(t, t.attentiveLocked(), now)
}

func (b *Browser) requestLocked(t *Tab, steal bool, now time.Time) {
	if steal {
		// Granted at once, ahead of the line; a holder robbed of it waits
		// in line again (without stealing).
		old := b.holder
		if old != nil {
			b.releaseLocked(old)
			b.stats.Steals++
		}
		b.grantLocked(t, now)
		if old != nil && old.eligibleLocked() {
			b.line = append(b.line, old)
		}
		return
	}
	b.line = append(b.line, t)
	b.grantNextLocked(now)
}

// dropLocked gives up t's lock or its place in line.
func (b *Browser) dropLocked(t *Tab, now time.Time) {
	b.line = slices.DeleteFunc(b.line, func(x *Tab) bool { return x == t })
	if b.holder == t {
		b.releaseLocked(t)
		b.grantNextLocked(now)
	}
}

func (b *Browser) releaseLocked(t *Tab) {
	b.holder = nil
	t.ready = false
	t.gen++
	if t.handoff != nil {
		t.handoff.Stop()
		t.handoff = nil
	}
}

func (b *Browser) grantNextLocked(now time.Time) {
	for b.holder == nil && len(b.line) > 0 {
		next := b.line[0]
		b.line = b.line[1:]
		if next.eligibleLocked() {
			b.grantLocked(next, now)
		}
	}
}

func (b *Browser) grantLocked(t *Tab, now time.Time) {
	b.holder = t
	b.stats.Grants++
	t.gen++
	t.ready = false
	b.awaitHandoffLocked(t, now)
}

// awaitHandoffLocked makes the holder t ready once Handoff has passed since
// the browser's last report (at once if it has).
func (b *Browser) awaitHandoffLocked(t *Tab, now time.Time) {
	left := time.Duration(0)
	if !b.last.IsZero() {
		left = min(b.opts.Handoff, max(0, b.last.Add(b.opts.Handoff).Sub(now)))
	}
	if left <= 0 {
		t.ready = true
		return
	}
	gen := t.gen
	t.handoff = time.AfterFunc(left, func() {
		b.update(func(now time.Time) { b.handoffOverLocked(t, gen, now) })
	})
}

// handoffOverLocked is the end of the hand-off wait of t's grant gen: t is
// ready unless a tab reported meanwhile (then it waits again).
func (b *Browser) handoffOverLocked(t *Tab, gen int, now time.Time) {
	if t.gen != gen || b.holder != t {
		return // released meanwhile
	}
	if t.handoff != nil {
		t.handoff.Stop()
		t.handoff = nil
	}
	b.awaitHandoffLocked(t, now)
}

// --- what a tab reports ----------------------------------------------------------

// Marks on the bubbles of a tab's page (chat.js keeps WeakSets of
// elements): a bubble replaced by a new copy of itself is new, unmarked.
const (
	markDelivered = "data-page-delivered" // reported delivered by this tab
	markSeen      = "data-page-seen"      // reported seen by this tab
	markLooked    = "data-page-looked"    // seen here (the dwell is over)
	markSince     = "data-page-since"     // in front of the customer since (Unix ns)
)

// agentBubbles is what chat.js reports on in the customer's window.
const agentBubbles = `#messages [data-testid="message"][data-from="agent"][data-seq]`

func (t *Tab) attentiveLocked() bool {
	return !t.closed && t.visible && t.b.focused == t
}

// eligibleLocked: the tab may hold the lock: its socket is open, the
// window came over it, and the banner says the upstream is open.
func (t *Tab) eligibleLocked() bool {
	return !t.closed && t.doc != nil && t.socket == "open" && !t.fresh &&
		t.doc.Find("#connection").AttrOr("data-state", "") == "open"
}

// mayReportLocked: the tab is the browser's reporting tab (or every tab is).
func (t *Tab) mayReportLocked() bool {
	return !t.b.opts.Locks || (t.b.holder == t && t.ready)
}

// lookLocked plays the dwell: while the tab is attentive, every bubble has
// been in front of the customer since it arrived or the tab became
// attentive, and is seen once that lasted Dwell; otherwise nothing is.
func (t *Tab) lookLocked(now time.Time) {
	if t.doc == nil {
		return
	}
	bubbles := t.doc.Find(agentBubbles)
	if !t.attentiveLocked() {
		bubbles.RemoveAttr(markSince)
		if t.dwell != nil {
			t.dwell.Stop()
			t.dwell = nil
		}
		return
	}
	var next time.Time
	bubbles.Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr(markLooked); ok {
			return
		}
		since := now
		if v, ok := s.Attr(markSince); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				since = time.Unix(0, n)
			}
		} else {
			s.SetAttr(markSince, strconv.FormatInt(now.UnixNano(), 10))
		}
		if now.Sub(since) >= t.b.opts.Dwell {
			s.SetAttr(markLooked, "")
			s.RemoveAttr(markSince)
			return
		}
		if due := since.Add(t.b.opts.Dwell); next.IsZero() || due.Before(next) {
			next = due
		}
	})
	if next.IsZero() || (t.dwell != nil && t.dwellAt.Equal(next)) {
		return
	}
	if t.dwell != nil {
		t.dwell.Stop()
	}
	t.dwellAt = next
	t.dwell = time.AfterFunc(next.Sub(now), func() { t.b.update(nil) })
}

// collectLocked returns what the tab reports now: the bubbles of its page
// it has not reported delivered, and those seen here it has not reported
// seen; nothing unless it may report.
func (t *Tab) collectLocked(now time.Time) (delivered, seen []Item) {
	if t.doc == nil || t.closed || !t.mayReportLocked() {
		return nil, nil
	}
	t.doc.Find(agentBubbles).Each(func(_ int, s *goquery.Selection) {
		it, ok := itemOf(s)
		if !ok {
			return
		}
		if _, ok := s.Attr(markDelivered); !ok {
			s.SetAttr(markDelivered, "")
			delivered = append(delivered, it)
		}
		if _, ok := s.Attr(markLooked); ok {
			if _, ok := s.Attr(markSeen); !ok {
				s.SetAttr(markSeen, "")
				seen = append(seen, it)
			}
		}
	})
	t.stats.Delivered += len(delivered)
	t.stats.Seen += len(seen)
	if len(delivered)+len(seen) > 0 {
		t.b.last = now
	}
	return delivered, seen
}

func itemOf(s *goquery.Selection) (Item, bool) {
	seq, err := strconv.ParseInt(s.AttrOr("data-seq", ""), 10, 64)
	if err != nil {
		return Item{}, false
	}
	return Item{DialogID: s.AttrOr("data-dialog-id", ""), Seq: seq}, true
}

// markReported marks every bubble of doc as reported: a page's bubbles
// before its socket opened are never reported (chat.js has no socket yet;
// the window the socket sends replaces them).
func markReported(doc *goquery.Document) {
	doc.Find(agentBubbles).SetAttr(markDelivered, "").SetAttr(markSeen, "")
}

// sendReports sends report frames. Without locks they are frames like any
// other (they wait while the socket is down); with the lock they go now or
// never, as in chat.js: a report sent after a reconnect could reach
// another node long after another tab took over.
func (t *Tab) sendReports(frames [][]byte) {
	if !t.b.opts.Locks {
		for _, f := range frames {
			if err := t.sendFrame(f); err != nil {
				return
			}
		}
		return
	}
	t.b.mu.Lock()
	conn, open := t.conn, t.socket == "open" && !t.closed
	t.b.mu.Unlock()
	if !open {
		return
	}
	for _, f := range frames {
		if !t.write(context.Background(), conn, f) {
			return
		}
	}
}

// Item is a reported bubble, as chat.js names it.
type Item struct {
	DialogID string `json:"dialogId"`
	Seq      int64  `json:"seq"`
}

func reports(status string, items []Item) [][]byte {
	var out [][]byte
	for c := range slices.Chunk(items, maxItems) {
		b, _ := json.Marshal(struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Items  []Item `json:"items"`
		}{"report", status, c})
		out = append(out, b)
	}
	return out
}

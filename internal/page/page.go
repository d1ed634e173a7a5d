// Package page is a client of the chat window's page protocol, without a
// browser: it loads the window (GET /, the session cookie), opens the
// window's socket (/ws) from the window's own origin, applies the htmx
// fragments the server sends to a model of the page exactly as htmx's ws
// extension applies them to the DOM (every top-level element swapped out of
// band), and reports what chat.js reports: "delivered" for every agent
// bubble in the page, and "seen" for those in front of the customer. Fault
// tests, the many-nodes test and the load generator use it to play many
// customers' tabs.
//
// What it does like the browser, so that what it finds is what a customer
// would see:
//   - hx-swap-oob="true" replaces every element with that id (an element
//     whose id is not in the page is dropped, as htmx does);
//     "beforeend:#messages" appends the fragment's children;
//     "innerHTML" replaces the children of the element with that id.
//   - Every agent bubble inserted (a new element, also one that replaced an
//     older copy of itself) is reported delivered, and seen once the tab
//     has been visible and focused for the dwell, in one batch per frame
//     received (chat.js batches per task), of at most 200 items a report
//     frame (see maxItems). Reports of bubbles that arrived before the
//     socket opened are not sent (chat.js has no socket yet then): the
//     window the socket sends replaces them.
//   - Tabs of one Browser share its cookies, its focus (at most one tab has
//     it) and, with BrowserOptions.Locks, chat.js's delivery lock: only the
//     holder reports (see Browser).
//   - Frames sent while the socket is down wait and go out when it is back
//     (the ws extension queues them; with the lock, reports do not wait:
//     they go now or never, as in chat.js); the socket reconnects, with
//     full-jitter back-off, after the closes htmx reconnects after (1006,
//     1012, 1013) and after Drop.
//
// It does not model scrolling: a tab in front of the customer shows every
// bubble. Open is a tab in a browser of its own, without locks and with no
// dwell: tabs opened with Open and one jar all report, as before the
// Browser existed.
package page

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"
)

const (
	// writeTimeout bounds every write to the socket.
	writeTimeout = 10 * time.Second
	// readLimit bounds a frame from the server: a window with a long
	// history is one frame.
	readLimit = 64 << 20
	// maxItems is the most items sent in one report. The server takes up
	// to 1000, but reads at most 32 KiB a frame (web.Config.MaxFrame):
	// 200 items of a UUID dialog are about 12 KiB. (chat.js must chunk
	// the same way: a window of ~550 agent messages otherwise makes a
	// report over 32 KiB, and the server closes the socket with 1009.)
	maxItems = 200
	// maxQueued bounds the frames waiting for the socket.
	maxQueued = 1000
)

// ErrClosed is returned by a Tab that was closed.
var ErrClosed = errors.New("page: tab closed")

// Message is one bubble as the page shows it.
type Message struct {
	ID       string // the DOM id: "m-{dialog}-{seq}", or "l-{local id}" while sending
	DialogID string
	Seq      int64
	HasSeq   bool
	From     string // agent, consumer, system
	Receipt  string // the ticks of the customer's own: pending, sent, accepted, read, failed
	Text     string
	LocalID  string // the retry form's local id (failed messages)
}

// View is a snapshot of the page.
type View struct {
	// Socket is the state of the page's own socket: connecting, open,
	// reconnecting, closed.
	Socket string
	// Connection is the window's banner: the state of the session's
	// upstream (connecting, open, reconnecting, offline).
	Connection string
	// Typing: the agent typing indicator is shown.
	Typing bool
	// Agent is the agent name line.
	Agent string
	// Messages in DOM order.
	Messages []Message
	// Frames is the number of frames applied so far.
	Frames int
	// Ended is why the page's last socket ended ("" while the first is
	// open): the close code and reason, or the error.
	Ended string
}

// AgentMessages returns the agent's bubbles, in DOM order.
func (v View) AgentMessages() []Message {
	var out []Message
	for _, m := range v.Messages {
		if m.From == "agent" {
			out = append(out, m)
		}
	}
	return out
}

// Tab is one chat window tab of a customer.
type Tab struct {
	b      *Browser
	base   *url.URL
	hc     *http.Client
	origin string
	wsURL  string

	// Guarded by b.mu.
	doc     *goquery.Document
	socket  string
	fresh   bool // the socket is open and its first frame (the window) has not come
	ended   string
	visible bool
	frames  int
	queue   [][]byte
	conn    *websocket.Conn
	changed chan struct{} // closed (and replaced) at every change
	cancel  context.CancelFunc
	done    chan struct{} // closed when the socket goroutine has ended
	closed  bool
	stats   Stats
	ready   bool        // holds the delivery lock, and the hand-off wait is over
	gen     int         // changes when the tab gets or loses the lock: stale timers do nothing
	handoff *time.Timer // the hand-off wait
	dwell   *time.Timer // the next bubble's dwell ending
	dwellAt time.Time
}

// Stats counts what a tab did.
type Stats struct {
	Frames    int // frames received and applied
	Delivered int // items reported delivered
	Seen      int // items reported seen
	Reconnect int // sockets opened after the first one
	NoTarget  int // oob swaps whose target was not in the page (htmx drops them)
}

// Open loads the window as a new tab of the customer whose cookies are in
// jar (nil: a new customer), in a browser of its own without locks (see
// the package doc), and opens its socket. ctx bounds the load and the
// first dial; the tab lives until Close. The tab is visible and focused.
func Open(ctx context.Context, baseURL string, jar http.CookieJar) (*Tab, error) {
	return NewBrowser(jar, BrowserOptions{}).Open(ctx, baseURL)
}

// Open loads the window in a new tab of the browser and opens its socket.
// ctx bounds the load and the first dial; the tab lives until Close. The
// tab is visible and takes the browser's focus, as a tab the customer
// opened does.
func (b *Browser) Open(ctx context.Context, baseURL string) (*Tab, error) {
	base, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("page: base URL %q is not http(s)://host", baseURL)
	}
	ws := *base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	ws.Path += "/ws"
	t := &Tab{
		b:       b,
		base:    base,
		hc:      &http.Client{Jar: b.jar},
		origin:  base.Scheme + "://" + base.Host,
		wsURL:   ws.String(),
		visible: true,
		changed: make(chan struct{}),
	}
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	b.update(func(now time.Time) {
		b.focused = t
		b.considerLocked(t, true, now)
	})
	return t, nil
}

// Jar is the tab's cookie jar (its browser's): open another tab of the
// same customer with it.
func (t *Tab) Jar() http.CookieJar { return t.b.jar }

// Browser is the tab's browser.
func (t *Tab) Browser() *Browser { return t.b }

// Focus gives the tab the browser's focus (the customer clicked on it):
// any other tab loses it.
func (t *Tab) Focus() {
	t.b.update(func(now time.Time) {
		if t.b.focused == t || t.closed {
			return
		}
		t.b.focused = t
		t.b.considerLocked(t, true, now)
	})
}

// Reporting says whether the tab reports now: it holds the delivery lock
// and waited the hand-off (or its browser has no locks).
func (t *Tab) Reporting() bool {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return !t.closed && t.mayReportLocked()
}

// load is a page load: GET / and a new socket.
// start asks for the customer's identity as chat.js does (a POST from the
// window's origin to path) and returns the window loaded again with it.
func (t *Tab) start(ctx context.Context, path string) (*goquery.Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base.String()+path, nil)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	req.Header.Set("Origin", t.origin)
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("page: start %s: %w", req.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("page: start %s: %s", req.URL, resp.Status)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, t.base.String()+"/", nil)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	resp, err = t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("page: load %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("page: load %s: %s", req.URL, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("page: parse %s: %w", req.URL, err)
	}
	return doc, nil
}

func (t *Tab) load(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base.String()+"/", nil)
	if err != nil {
		return fmt.Errorf("page: %w", err)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("page: load %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("page: load %s: %s", req.URL, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return fmt.Errorf("page: parse %s: %w", req.URL, err)
	}
	if main := doc.Find("main[data-start]:not([ws-connect])"); main.Length() > 0 {
		// An anonymous window: before the customer's first message, chat.js
		// asks for an identity; the tab does so at once, and loads the
		// window it then has.
		if doc, err = t.start(ctx, main.AttrOr("data-start", "")); err != nil {
			return err
		}
	}
	markReported(doc)
	conn, err := t.dial(ctx)
	if err != nil {
		return err
	}
	life, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b := t.b
	b.mu.Lock()
	t.doc, t.socket, t.fresh, t.queue, t.closed = doc, "open", true, nil, false
	t.conn, t.cancel, t.done = conn, cancel, done
	if !slices.Contains(b.tabs, t) {
		b.tabs = append(b.tabs, t)
	}
	t.notifyLocked()
	b.mu.Unlock()
	// The socket goroutine reads (and reconnects) until Close or a close
	// the page does not reconnect after.
	go func() {
		defer close(done)
		t.serve(life, conn)
	}()
	return nil
}

func (t *Tab) dial(ctx context.Context) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, t.wsURL, &websocket.DialOptions{
		HTTPClient: t.hc,
		HTTPHeader: http.Header{"Origin": {t.origin}},
	})
	if err != nil {
		return nil, fmt.Errorf("page: dial %s: %w", t.wsURL, err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// serve reads conn until it ends, then reconnects like htmx does, until
// ctx ends (Close) or the server closed in a way that means "stop".
func (t *Tab) serve(ctx context.Context, conn *websocket.Conn) {
	retry := 0
	for {
		err := t.read(ctx, conn)
		conn.CloseNow()
		t.b.mu.Lock()
		if code := websocket.CloseStatus(err); code != -1 {
			var ce websocket.CloseError
			errors.As(err, &ce)
			t.ended = fmt.Sprintf("%d %s", code, ce.Reason)
		} else {
			t.ended = err.Error()
		}
		t.b.mu.Unlock()
		if ctx.Err() != nil {
			t.setSocket("closed")
			return
		}
		switch websocket.CloseStatus(err) {
		case -1, websocket.StatusAbnormalClosure, websocket.StatusServiceRestart, websocket.StatusTryAgainLater:
		default:
			t.setSocket("closed")
			return
		}
		t.setSocket("reconnecting")
		for {
			// htmx-ext-ws "full-jitter": up to 1 s · 2^min(retry, 6).
			ceil := time.Second << min(retry, 6)
			retry++
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(ceil)))):
			case <-ctx.Done():
				t.setSocket("closed")
				return
			}
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := t.dial(dctx)
			cancel()
			if err == nil {
				conn = c
				break
			}
		}
		retry = 0
		t.b.mu.Lock()
		t.conn = conn
		t.fresh = true
		t.stats.Reconnect++
		t.b.mu.Unlock()
		// What waited goes first, in order; the socket counts as open
		// once nothing waits any more.
		for {
			t.b.mu.Lock()
			queued := t.queue
			t.queue = nil
			t.b.mu.Unlock()
			if len(queued) == 0 {
				t.setSocket("open")
				break
			}
			for _, b := range queued {
				t.write(ctx, conn, b)
			}
		}
	}
}

// read applies the server's frames until the socket fails; after each,
// the tabs report what became due.
func (t *Tab) read(ctx context.Context, conn *websocket.Conn) error {
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		frag, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
		if err != nil {
			continue
		}
		t.b.update(func(now time.Time) {
			t.applyLocked(frag)
			t.fresh = false
			// The banner may have changed.
			t.b.considerLocked(t, false, now)
		})
	}
}

// write sends b on conn; a failure leaves it to the reader to notice.
func (t *Tab) write(ctx context.Context, conn *websocket.Conn, b []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
		conn.CloseNow()
		return false
	}
	return true
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

// applyLocked swaps a frame's elements into the page.
func (t *Tab) applyLocked(frag *goquery.Document) {
	frag.Find("body").Children().Each(func(_ int, el *goquery.Selection) {
		t.oobSwap(el)
	})
	t.frames++
	t.stats.Frames++
	t.notifyLocked()
}

// oobSwap applies one top-level element of a frame as htmx's oobSwap does.
func (t *Tab) oobSwap(el *goquery.Selection) {
	how := el.AttrOr("hx-swap-oob", "true")
	el.RemoveAttr("hx-swap-oob")
	style, selector := "outerHTML", ""
	switch i := strings.Index(how, ":"); {
	case how == "true":
	case i > 0:
		style, selector = how[:i], how[i+1:]
	default:
		style = how
	}
	var targets *goquery.Selection
	if selector != "" {
		targets = t.doc.Find(selector)
	} else {
		id := el.AttrOr("id", "")
		targets = t.doc.Find("[id]").FilterFunction(func(_ int, s *goquery.Selection) bool {
			return s.AttrOr("id", "") == id && id != ""
		})
	}
	if targets.Length() == 0 {
		t.stats.NoTarget++
		return
	}
	targets.Each(func(_ int, target *goquery.Selection) {
		switch style {
		case "outerHTML":
			target.ReplaceWithSelection(el.Clone())
		case "innerHTML":
			c := el.Clone().Contents()
			target.Empty() // returns the removed children
			target.AppendSelection(c)
		case "beforeend":
			target.AppendSelection(el.Clone().Contents())
		}
	})
}

func (t *Tab) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Tab) setSocket(s string) {
	t.b.update(func(now time.Time) {
		if t.socket != s {
			t.socket = s
			t.notifyLocked()
		}
		t.b.considerLocked(t, false, now)
	})
}

// SetVisible says whether the tab is visible (in front, not minimised).
// Seen needs it visible and focused: a tab of Open's has its browser's
// focus, so there it says whether the customer looks at the tab.
// Becoming visible reports the bubbles in the page as seen (after the
// dwell), as chat.js does once the tab is visible again.
func (t *Tab) SetVisible(visible bool) {
	t.b.update(func(now time.Time) {
		was := t.visible
		t.visible = visible
		if visible && !was {
			t.b.considerLocked(t, true, now)
		}
	})
}

// Send is the composer's submit: {"type":"send","text":…}. While the
// socket is down the frame waits for it, as htmx's does; ErrClosed after
// Close.
func (t *Tab) Send(text string) error {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"send", text})
	return t.sendFrame(b)
}

// Retry is the Retry button of a failed message.
func (t *Tab) Retry(localID string) error {
	b, _ := json.Marshal(struct {
		Type    string `json:"type"`
		LocalID string `json:"localId"`
	}{"retry", localID})
	return t.sendFrame(b)
}

// SendRaw sends a frame as it is (for tests of bad input).
func (t *Tab) SendRaw(b []byte) error { return t.sendFrame(b) }

func (t *Tab) sendFrame(b []byte) error {
	t.b.mu.Lock()
	if t.closed || t.socket == "closed" {
		t.b.mu.Unlock()
		return ErrClosed
	}
	if t.socket != "open" {
		if len(t.queue) >= maxQueued {
			t.b.mu.Unlock()
			return fmt.Errorf("page: %d frames already wait for the socket", maxQueued)
		}
		t.queue = append(t.queue, b)
		t.b.mu.Unlock()
		return nil
	}
	conn := t.conn
	t.b.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
		conn.CloseNow()
		return fmt.Errorf("page: send: %w", err)
	}
	return nil
}

// Queued is the number of frames waiting for the socket.
func (t *Tab) Queued() int {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return len(t.queue)
}

// Drop kills the socket abruptly (a network blip): the page reconnects.
func (t *Tab) Drop() {
	var conn *websocket.Conn
	t.b.update(func(now time.Time) {
		conn = t.conn
		if t.socket == "open" {
			// From now on frames wait for the new socket.
			t.socket = "reconnecting"
			t.notifyLocked()
		}
		t.b.considerLocked(t, false, now)
	})
	if conn != nil {
		conn.CloseNow()
	}
}

// Close leaves the page: the socket is dropped (without a close frame, as
// when a tab is closed or reloaded) and nothing is reconnected. Frames
// waiting for the socket are lost with the page; the tab's lock (if it
// held it) goes to the next tab in line.
func (t *Tab) Close() { t.leave(false) }

// leave closes the page; a reload keeps the tab in its browser (and its
// focus).
func (t *Tab) leave(reload bool) {
	b := t.b
	var cancel context.CancelFunc
	var conn *websocket.Conn
	var done chan struct{}
	left := false
	b.update(func(now time.Time) {
		if t.closed {
			return
		}
		left = true
		t.closed = true
		cancel, conn, done = t.cancel, t.conn, t.done
		b.dropLocked(t, now)
		if t.dwell != nil {
			t.dwell.Stop()
			t.dwell = nil
		}
		if !reload {
			b.tabs = slices.DeleteFunc(b.tabs, func(x *Tab) bool { return x == t })
			if b.focused == t {
				b.focused = nil
			}
		}
	})
	if !left {
		return
	}
	cancel()
	conn.CloseNow()
	<-done
}

// Reopen reloads the page: the old socket is dropped, the window loaded
// again with the same cookies, and a new socket opened.
func (t *Tab) Reopen(ctx context.Context) error {
	t.leave(true)
	if err := t.load(ctx); err != nil {
		t.b.update(func(time.Time) {
			t.b.tabs = slices.DeleteFunc(t.b.tabs, func(x *Tab) bool { return x == t })
			if t.b.focused == t {
				t.b.focused = nil
			}
		})
		return err
	}
	return nil
}

// View returns a snapshot of the page.
func (t *Tab) View() View {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return t.viewLocked()
}

// Messages returns the bubbles in DOM order.
func (t *Tab) Messages() []Message { return t.View().Messages }

// Stats returns what the tab did so far.
func (t *Tab) Stats() Stats {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return t.stats
}

func (t *Tab) viewLocked() View {
	d := t.doc
	v := View{
		Socket:     t.socket,
		Connection: d.Find("#connection").AttrOr("data-state", ""),
		Typing:     d.Find(`#agent-typing-slot [data-testid="agent-typing"]`).Length() > 0,
		Agent:      strings.Join(strings.Fields(d.Find("#agent-name").Text()), " "),
		Frames:     t.frames,
		Ended:      t.ended,
	}
	d.Find(`#messages [data-testid="message"]`).Each(func(_ int, s *goquery.Selection) {
		m := Message{
			ID:       s.AttrOr("id", ""),
			DialogID: s.AttrOr("data-dialog-id", ""),
			From:     s.AttrOr("data-from", ""),
			Receipt:  s.AttrOr("data-receipt", ""),
			Text:     s.Find(".message-text").First().Text(),
			LocalID:  s.Find(`input[name="localId"]`).AttrOr("value", ""),
		}
		if seq, ok := s.Attr("data-seq"); ok {
			if n, err := strconv.ParseInt(seq, 10, 64); err == nil {
				m.Seq, m.HasSeq = n, true
			}
		}
		v.Messages = append(v.Messages, m)
	})
	return v
}

// WaitFor waits until cond holds for the page (checked now and after every
// change) or ctx ends.
func (t *Tab) WaitFor(ctx context.Context, cond func(View) bool) (View, error) {
	for {
		t.b.mu.Lock()
		v := t.viewLocked()
		changed := t.changed
		t.b.mu.Unlock()
		if cond(v) {
			return v, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return v, fmt.Errorf("page: waiting: %w", ctx.Err())
		}
	}
}

// Package page is a client of the chat window's page protocol, without a
// browser: it loads the window (GET /, the session cookie), opens the
// window's socket (/ws) from the window's own origin, applies the htmx
// fragments the server sends to a model of the page exactly as htmx's ws
// extension applies them to the DOM (every top-level element swapped out of
// band), and reports what chat.js reports: "delivered" for every agent
// bubble inserted into the page, and "seen" while the tab is visible. Fault
// tests and the load generator use it to play many customers' tabs.
//
// What it does like the browser, so that what it finds is what a customer
// would see:
//   - hx-swap-oob="true" replaces every element with that id (an element
//     whose id is not in the page is dropped, as htmx does);
//     "beforeend:#messages" appends the fragment's children;
//     "innerHTML" replaces the children of the element with that id.
//   - Every agent bubble inserted (a new element, also one that replaced an
//     older copy of itself) is reported delivered, and seen when the tab is
//     visible, in one batch per frame received (chat.js batches per task),
//     of at most 200 items a report frame (see maxItems).
//     Reports of bubbles that arrived before the socket opened are not
//     sent (chat.js has no socket yet then): the window the socket sends
//     replaces them.
//   - Frames sent while the socket is down wait and go out when it is back
//     (the ws extension queues them); the socket reconnects, with
//     full-jitter back-off, after the closes htmx reconnects after (1006,
//     1012, 1013) and after Drop.
//
// It does not model scrolling or the dwell: a visible tab sees every bubble
// at once.
package page

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	base   *url.URL
	hc     *http.Client
	jar    http.CookieJar
	origin string
	wsURL  string

	mu      sync.Mutex
	doc     *goquery.Document
	socket  string
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
// jar (nil: a new customer) and opens its socket. ctx bounds the load and
// the first dial; the tab lives until Close. The tab is visible.
func Open(ctx context.Context, baseURL string, jar http.CookieJar) (*Tab, error) {
	base, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("page: base URL %q is not http(s)://host", baseURL)
	}
	if jar == nil {
		jar, err = cookiejar.New(nil)
		if err != nil {
			return nil, fmt.Errorf("page: cookie jar: %w", err)
		}
	}
	ws := *base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	ws.Path += "/ws"
	t := &Tab{
		base:    base,
		hc:      &http.Client{Jar: jar},
		jar:     jar,
		origin:  base.Scheme + "://" + base.Host,
		wsURL:   ws.String(),
		visible: true,
		changed: make(chan struct{}),
	}
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Jar is the tab's cookie jar: open another tab of the same customer with it.
func (t *Tab) Jar() http.CookieJar { return t.jar }

// load is a page load: GET / and a new socket.
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
	conn, err := t.dial(ctx)
	if err != nil {
		return err
	}
	life, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.mu.Lock()
	t.doc, t.socket, t.queue, t.closed = doc, "open", nil, false
	t.conn, t.cancel, t.done = conn, cancel, done
	t.notifyLocked()
	t.mu.Unlock()
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
		t.mu.Lock()
		if code := websocket.CloseStatus(err); code != -1 {
			var ce websocket.CloseError
			errors.As(err, &ce)
			t.ended = fmt.Sprintf("%d %s", code, ce.Reason)
		} else {
			t.ended = err.Error()
		}
		t.mu.Unlock()
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
		t.mu.Lock()
		t.conn = conn
		t.stats.Reconnect++
		t.mu.Unlock()
		// What waited goes first, in order; the socket counts as open
		// once nothing waits any more.
		for {
			t.mu.Lock()
			queued := t.queue
			t.queue = nil
			if len(queued) == 0 {
				t.socket = "open"
				t.notifyLocked()
				t.mu.Unlock()
				break
			}
			t.mu.Unlock()
			for _, b := range queued {
				t.write(ctx, conn, b)
			}
		}
	}
}

// read applies the server's frames until the socket fails.
func (t *Tab) read(ctx context.Context, conn *websocket.Conn) error {
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		delivered, seen := t.apply(b)
		for _, r := range reports("delivered", delivered) {
			t.write(ctx, conn, r)
		}
		for _, r := range reports("seen", seen) {
			t.write(ctx, conn, r)
		}
	}
}

// write sends b on conn; a failure leaves it to the reader to notice.
func (t *Tab) write(ctx context.Context, conn *websocket.Conn, b []byte) {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
		conn.CloseNow()
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

// apply swaps a frame's elements into the page and returns the agent
// bubbles it inserted: to report delivered, and seen when visible.
func (t *Tab) apply(b []byte) (delivered, seen []Item) {
	frag, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	if err != nil {
		return nil, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var inserted []*goquery.Selection
	frag.Find("body").Children().Each(func(_ int, el *goquery.Selection) {
		inserted = append(inserted, t.oobSwap(el)...)
	})
	for _, s := range inserted {
		s.Find(`[data-testid="message"]`).AddSelection(s.Filter(`[data-testid="message"]`)).Each(func(_ int, m *goquery.Selection) {
			if from, _ := m.Attr("data-from"); from != "agent" {
				return
			}
			seqText, ok := m.Attr("data-seq")
			if !ok {
				return
			}
			seq, err := strconv.ParseInt(seqText, 10, 64)
			if err != nil {
				return
			}
			dialog, _ := m.Attr("data-dialog-id")
			delivered = append(delivered, Item{dialog, seq})
		})
	}
	if t.visible {
		seen = slices.Clone(delivered)
	}
	t.frames++
	t.stats.Frames++
	t.stats.Delivered += len(delivered)
	t.stats.Seen += len(seen)
	t.notifyLocked()
	return delivered, seen
}

// oobSwap applies one top-level element of a frame as htmx's oobSwap does
// and returns the nodes it put into the page.
func (t *Tab) oobSwap(el *goquery.Selection) []*goquery.Selection {
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
		return nil
	}
	var out []*goquery.Selection
	targets.Each(func(_ int, target *goquery.Selection) {
		switch style {
		case "outerHTML":
			c := el.Clone()
			target.ReplaceWithSelection(c)
			out = append(out, c)
		case "innerHTML":
			c := el.Clone().Contents()
			target.Empty() // returns the removed children
			target.AppendSelection(c)
			out = append(out, c)
		case "beforeend":
			c := el.Clone().Contents()
			target.AppendSelection(c)
			out = append(out, c)
		}
	})
	return out
}

func (t *Tab) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Tab) setSocket(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.socket != s {
		t.socket = s
		t.notifyLocked()
	}
}

// SetVisible says whether the customer looks at the tab (visible and
// focused). Becoming visible reports the bubbles in the page as seen, as
// chat.js does once the tab is visible again.
func (t *Tab) SetVisible(visible bool) {
	t.mu.Lock()
	was := t.visible
	t.visible = visible
	var seen []Item
	if visible && !was && t.doc != nil {
		for _, m := range t.viewLocked().Messages {
			if m.From == "agent" && m.HasSeq {
				seen = append(seen, Item{m.DialogID, m.Seq})
			}
		}
		t.stats.Seen += len(seen)
	}
	t.mu.Unlock()
	for _, r := range reports("seen", seen) {
		t.sendFrame(r)
	}
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
	t.mu.Lock()
	if t.closed || t.socket == "closed" {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.socket != "open" {
		if len(t.queue) >= maxQueued {
			t.mu.Unlock()
			return fmt.Errorf("page: %d frames already wait for the socket", maxQueued)
		}
		t.queue = append(t.queue, b)
		t.mu.Unlock()
		return nil
	}
	conn := t.conn
	t.mu.Unlock()
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
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// Drop kills the socket abruptly (a network blip): the page reconnects.
func (t *Tab) Drop() {
	t.mu.Lock()
	conn := t.conn
	if t.socket == "open" {
		// From now on frames wait for the new socket.
		t.socket = "reconnecting"
		t.notifyLocked()
	}
	t.mu.Unlock()
	if conn != nil {
		conn.CloseNow()
	}
}

// Close leaves the page: the socket is dropped (without a close frame, as
// when a tab is closed or reloaded) and nothing is reconnected. Frames
// waiting for the socket are lost with the page.
func (t *Tab) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	cancel, conn, done := t.cancel, t.conn, t.done
	t.mu.Unlock()
	cancel()
	conn.CloseNow()
	<-done
}

// Reopen reloads the page: the old socket is dropped, the window loaded
// again with the same cookies, and a new socket opened.
func (t *Tab) Reopen(ctx context.Context) error {
	t.Close()
	return t.load(ctx)
}

// View returns a snapshot of the page.
func (t *Tab) View() View {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.viewLocked()
}

// Messages returns the bubbles in DOM order.
func (t *Tab) Messages() []Message { return t.View().Messages }

// Stats returns what the tab did so far.
func (t *Tab) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
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
		t.mu.Lock()
		v := t.viewLocked()
		changed := t.changed
		t.mu.Unlock()
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

package pageclient

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
var ErrClosed = errors.New("pageclient: tab closed")

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
		return nil, fmt.Errorf("pageclient: base URL %q is not http(s)://host", baseURL)
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
		return nil, fmt.Errorf("pageclient: %w", err)
	}
	req.Header.Set("Origin", t.origin)
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pageclient: start %s: %w", req.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("pageclient: start %s: %s", req.URL, resp.Status)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, t.base.String()+"/", nil)
	if err != nil {
		return nil, fmt.Errorf("pageclient: %w", err)
	}
	resp, err = t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pageclient: load %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("pageclient: load %s: %s", req.URL, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("pageclient: parse %s: %w", req.URL, err)
	}
	return doc, nil
}

func (t *Tab) load(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base.String()+"/", nil)
	if err != nil {
		return fmt.Errorf("pageclient: %w", err)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("pageclient: load %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("pageclient: load %s: %s", req.URL, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return fmt.Errorf("pageclient: parse %s: %w", req.URL, err)
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
	h := http.Header{"Origin": {t.origin}}
	if ua := t.b.opts.UserAgent; ua != "" {
		h.Set("User-Agent", ua)
	}
	if lang := t.b.opts.AcceptLanguage; lang != "" {
		h.Set("Accept-Language", lang)
	}
	conn, _, err := websocket.Dial(ctx, t.wsURL, &websocket.DialOptions{HTTPClient: t.hc, HTTPHeader: h})
	if err != nil {
		return nil, fmt.Errorf("pageclient: dial %s: %w", t.wsURL, err)
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

func (t *Tab) sendFrame(b []byte) error {
	t.b.mu.Lock()
	if t.closed || t.socket == "closed" {
		t.b.mu.Unlock()
		return ErrClosed
	}
	if t.socket != "open" {
		if len(t.queue) >= maxQueued {
			t.b.mu.Unlock()
			return fmt.Errorf("pageclient: %d frames already wait for the socket", maxQueued)
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
		return fmt.Errorf("pageclient: send: %w", err)
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

// Stats returns what the tab did so far.
func (t *Tab) Stats() Stats {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return t.stats
}

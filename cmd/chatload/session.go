package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// What chat.js does (static/chat.js), as constants of the light tab.
const (
	reportEvery = 100 * time.Millisecond // REPORT_EVERY: reports are batched this long
	reportItems = 200                    // REPORT_ITEMS: items per report frame
	tabWrite    = 10 * time.Second       // bound on every write to the window's socket
	tabReadMax  = 64 << 20               // a window with a long history is one frame

	captureFrames = 60 // frames kept by -capture
)

// session is one customer with one light tab: its own cookie jar and
// source address, the window's socket, and chat.js's reports. It keeps
// what the tab reported so that the agents can time the receipts.
type session struct {
	r       *loadRun
	n       int
	win     int // its window, of procs.windows
	base    *url.URL
	visible bool
	dwell   time.Duration

	hc *http.Client
	tr *http.Transport

	mu        sync.Mutex
	conn      *websocket.Conn
	open      bool   // the socket is up
	upstream  string // the banner's state: the session's upstream socket
	dialog    string // the conversation, once the customer's message has a sequence
	armed     bool   // a flush is scheduled
	pendDel   []int64
	pendSeen  []int64
	reps      []rep // by sequence of the dialog
	recFrames [4]int64
	recNext   int
	closing   bool
	ended     bool // run has returned
	reconnect int
	// capture, when not nil, keeps the first frames received (-capture).
	capture *[][]byte
}

// rep is what happened to one sequence of the tab's dialog.
type rep struct {
	delivered, seen int64 // when its report was sent (run ns), 0 = not yet
	flags           uint8
}

const (
	repInDelivered uint8 = 1 << iota // queued for a delivered report
	repInSeen                        // queued (or dwelling) for a seen report
	repAccept                        // the agent saw its ACCEPT
	repRead                          // the agent saw its READ
)

func (s *session) rep(seq int64) *rep {
	if seq < 0 || seq > 1<<24 {
		return nil
	}
	for int64(len(s.reps)) <= seq {
		s.reps = append(s.reps, rep{})
	}
	return &s.reps[seq]
}

// sourceAddr is session i's own loopback address, 127.0.0.2 on, skipping
// addresses ending in 0 and 255: the window limits requests per client
// address, and real customers come from many addresses.
func sourceAddr(i int) net.IP {
	i++ // 127.0.0.1 is the servers'
	o3 := byte(1 + i%254)
	i /= 254
	return net.IPv4(127, byte(i/256), byte(i%256), o3)
}

// newSession is session n, of window win at base.
func newSession(r *loadRun, n, win int, base *url.URL, visible bool, dwell time.Duration, spread bool) *session {
	jar, _ := cookiejar.New(nil) // never fails without options
	d := &net.Dialer{Timeout: 10 * time.Second}
	if spread {
		d.LocalAddr = &net.TCPAddr{IP: sourceAddr(n)}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1, DisableCompression: true, ResponseHeaderTimeout: 15 * time.Second}
	return &session{
		r: r, n: n, win: win, base: base, visible: visible, dwell: dwell,
		tr: tr, hc: &http.Client{Transport: tr, Jar: jar, Timeout: 0},
	}
}

// run loads the page, opens the socket, sends the customer's first
// message (which creates the conversation) and reads until ctx ends.
// Broken sockets are reopened as htmx does (1006, 1012, 1013 and network
// errors); every one is an error of the run.
func (s *session) run(ctx context.Context) {
	defer s.tr.CloseIdleConnections()
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}()
	if err := s.load(ctx); err != nil {
		if ctx.Err() == nil {
			s.r.errs.add("tab: load", "session %d: %v", s.n, err)
		}
		return
	}
	conn, err := s.dial(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.r.errs.add("tab: socket handshake", "session %d: %v", s.n, err)
		}
		return
	}
	s.setConn(conn)
	if err := s.write(ctx, sendFrame(fmt.Sprintf("hello from customer %d", s.n), s.base.String())); err != nil {
		s.r.errs.add("tab: send", "session %d: %v", s.n, err)
	}
	for retry := 0; ; {
		err := s.read(ctx, conn)
		conn.CloseNow()
		s.mu.Lock()
		s.open = false
		closing := s.closing
		s.mu.Unlock()
		if ctx.Err() != nil || closing {
			return
		}
		code := websocket.CloseStatus(err)
		s.r.errs.add("tab: socket lost", "session %d: %v", s.n, err)
		switch code {
		case -1, websocket.StatusAbnormalClosure, websocket.StatusServiceRestart, websocket.StatusTryAgainLater:
		default:
			return // htmx does not come back after other closes
		}
		for {
			retry++
			ceil := time.Second << min(retry, 4)
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(ceil)))):
			case <-ctx.Done():
				return
			}
			c, err := s.dial(ctx)
			if err == nil {
				conn = c
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.r.errs.add("tab: socket handshake", "session %d (reconnect): %v", s.n, err)
		}
		retry = 0
		s.mu.Lock()
		s.reconnect++
		s.mu.Unlock()
		s.setConn(conn)
	}
}

func (s *session) setConn(c *websocket.Conn) {
	s.mu.Lock()
	s.conn, s.open = c, true
	s.mu.Unlock()
}

// load is the page load (GET /), then what chat.js does before the
// customer's first message: POST /session, which sets the session cookie.
// Their connections are closed after the answer: the socket's upgrade
// cannot reuse them (Go's transport keeps HTTP/1-only upgrade requests
// apart from other idle connections), and a browser closes an idle
// connection after a while, while the window keeps one open as long as
// the client does. A session held idle is its socket alone.
func (s *session) load(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.request(lctx, http.MethodGet, "/", http.StatusOK); err != nil {
		return err
	}
	return s.request(lctx, http.MethodPost, "/session", http.StatusNoContent)
}

// request makes one request of the page, from its origin, and wants the
// status want.
func (s *session) request(ctx context.Context, method, path string, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, s.base.String()+path, nil)
	if err != nil {
		return err
	}
	req.Close = true
	req.Header.Set("Origin", s.base.Scheme+"://"+s.base.Host)
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// dial opens the window's socket from the window's own origin (the server
// refuses any other).
func (s *session) dial(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := *s.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/ws"
	conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{
		HTTPClient: s.hc,
		HTTPHeader: http.Header{"Origin": {s.base.Scheme + "://" + s.base.Host}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != 0 {
			return nil, fmt.Errorf("GET /ws: %s", resp.Status)
		}
		return nil, fmt.Errorf("GET /ws: %w", err)
	}
	conn.SetReadLimit(tabReadMax)
	return conn, nil
}

// sendFrame is what htmx's ws extension sends for the composer form: its
// fields and the HEADERS the server ignores.
func sendFrame(text, page string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "send",
		"text": text,
		"HEADERS": map[string]any{
			"HX-Request": "true", "HX-Trigger": "composer-form", "HX-Trigger-Name": nil,
			"HX-Target": "composer-form", "HX-Current-URL": page + "/",
		},
	})
	return b
}

func (s *session) write(ctx context.Context, b []byte) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return errors.New("no socket")
	}
	wctx, cancel := context.WithTimeout(ctx, tabWrite)
	defer cancel()
	if err := c.Write(wctx, websocket.MessageText, b); err != nil {
		c.CloseNow() // the reader notices
		return err
	}
	return nil
}

// read handles the window's frames until the socket fails.
func (s *session) read(ctx context.Context, conn *websocket.Conn) error {
	var fs frameScan
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		if s.capture != nil && len(*s.capture) < captureFrames {
			s.mu.Lock()
			*s.capture = append(*s.capture, append([]byte(nil), b...))
			s.mu.Unlock()
		}
		scanFrame(b, &fs)
		s.apply(ctx, &fs)
	}
}

// apply does what the page does with a frame: the customer's own bubble
// names the conversation; every agent bubble inserted is reported
// delivered at once and seen after the dwell (visible tabs), in batches.
func (s *session) apply(ctx context.Context, fs *frameScan) {
	now := s.r.now()
	ph := s.r.cur()
	var seen []int64
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs.Connection != nil {
		s.upstream = string(fs.Connection)
	}
	for _, b := range fs.Bubbles {
		if !b.HasSeq {
			continue
		}
		switch string(b.From) {
		case "consumer":
			if s.dialog == "" && len(b.Dialog) > 0 {
				s.dialog = string(b.Dialog)
				if prev := s.r.registry.put(s.dialog, s); prev != nil {
					s.r.errs.add("tab: conversation of another customer", "session %d shows dialog %s of session %d", s.n, s.dialog, prev.n)
				}
			}
			continue
		case "agent":
		default:
			continue
		}
		if id, pub, ok := parseLoadText(b.Text); ok {
			switch e := s.r.ledger.get(id); {
			case e == nil:
				s.r.errs.add("tab: unknown message", "session %d: message %d", s.n, id)
			default:
				if int(e.sess) != s.n {
					s.r.errs.add("tab: message for another customer", "session %d shows message %d of session %d", s.n, id, e.sess)
				}
				if n := e.recv.Add(1); n == 1 {
					ph.received.Add(1)
					ph.receivedBy[s.win].Add(1)
					s.r.received.Add(1)
					if s.win == s.r.floorNode {
						ph.floor.Record(time.Duration(now - pub))
					} else {
						ph.relay.Record(time.Duration(now - pub))
					}
					if h := s.r.stepRelay.Load(); h != nil {
						h.Record(time.Duration(now - pub))
					}
				} else if !fs.Reset {
					s.r.errs.add("tab: duplicate message", "session %d: message %d inserted %d times", s.n, id, n)
				}
			}
		}
		if string(b.Dialog) != s.dialog {
			continue // another dialog (a survey): not ours to time
		}
		r := s.rep(b.Seq)
		if r == nil {
			continue
		}
		if r.delivered == 0 && r.flags&repInDelivered == 0 {
			r.flags |= repInDelivered
			s.pendDel = append(s.pendDel, b.Seq)
			s.armLocked(ctx)
		}
		if s.visible && r.seen == 0 && r.flags&repInSeen == 0 {
			r.flags |= repInSeen
			seen = append(seen, b.Seq)
		}
	}
	if len(seen) > 0 {
		if s.dwell <= 0 {
			s.pendSeen = append(s.pendSeen, seen...)
			s.armLocked(ctx)
		} else {
			// chat.js's dwell: seen once in view of a visible, focused tab
			// this long (the light tab is always at the bottom, focused).
			time.AfterFunc(s.dwell, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.pendSeen = append(s.pendSeen, seen...)
				s.armLocked(ctx)
			})
		}
	}
}

// armLocked schedules a flush of the reports, like chat.js's
// setTimeout(flushReports, REPORT_EVERY).
func (s *session) armLocked(ctx context.Context) {
	if s.armed {
		return
	}
	s.armed = true
	time.AfterFunc(reportEvery, func() { s.flush(ctx) })
}

// flush sends the pending reports: delivered, then seen, in frames of at
// most reportItems items (chat.js's flushReports). The time each report
// goes out is what the agents time receipts from.
func (s *session) flush(ctx context.Context) {
	s.mu.Lock()
	s.armed = false
	if s.closing || !s.open {
		// The socket is down: chat.js's wrapper would queue; the window
		// reloads the bubbles on reconnect and they are reported then.
		for _, q := range s.pendDel {
			s.rep(q).flags &^= repInDelivered
		}
		for _, q := range s.pendSeen {
			s.rep(q).flags &^= repInSeen
		}
		s.pendDel, s.pendSeen = s.pendDel[:0], s.pendSeen[:0]
		s.mu.Unlock()
		return
	}
	now := s.r.now()
	var frames [][]byte
	for _, kind := range []string{"delivered", "seen"} {
		list := s.pendDel
		if kind == "seen" {
			list = s.pendSeen
		}
		for i := 0; i < len(list); i += reportItems {
			frames = append(frames, reportFrame(kind, s.dialog, list[i:min(i+reportItems, len(list))]))
		}
		for _, q := range list {
			r := s.rep(q)
			if kind == "delivered" {
				r.delivered, r.flags = now, r.flags&^repInDelivered
			} else {
				r.seen, r.flags = now, r.flags&^repInSeen
			}
		}
	}
	items := len(s.pendDel) + len(s.pendSeen)
	s.pendDel, s.pendSeen = s.pendDel[:0], s.pendSeen[:0]
	s.mu.Unlock()
	ph := s.r.cur()
	ph.reports.Add(int64(len(frames)))
	ph.reportItems.Add(int64(items))
	for _, f := range frames {
		if err := s.write(ctx, f); err != nil {
			if ctx.Err() == nil {
				s.r.errs.add("tab: report", "session %d: %v", s.n, err)
			}
			return
		}
	}
}

// reportFrame is chat.js's report: {"type":"report","status":…,"items":[{"dialogId","seq"}…]}.
func reportFrame(status, dialog string, seqs []int64) []byte {
	var b strings.Builder
	b.Grow(40 + len(seqs)*(len(dialog)+24))
	b.WriteString(`{"type":"report","status":"`)
	b.WriteString(status)
	b.WriteString(`","items":[`)
	d, _ := json.Marshal(dialog)
	for i, q := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"dialogId":`)
		b.Write(d)
		b.WriteString(`,"seq":`)
		b.WriteString(strconv.FormatInt(q, 10))
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// receipt is an AcceptStatusEvent of the customer that an agent received
// at run time at: every sequence is matched with the tab's report of it.
func (s *session) receipt(status string, seqs []int64, at int64, ph *phaseStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The floor's receipts are checked, not counted or timed: the figures
	// are the windows'.
	timed := s.win != s.r.floorNode
	// The most receipt frames of this dialog in any 100 ms: this frame
	// and those of the last 100 ms.
	in := int64(1)
	for _, t := range s.recFrames {
		if t != 0 && at-t < int64(100*time.Millisecond) {
			in++
		}
	}
	s.recFrames[s.recNext] = at
	s.recNext = (s.recNext + 1) % len(s.recFrames)
	if timed {
		ph.frames.Add(1)
		storeMax(&ph.maxFrames, in)
		if in > 1 {
			ph.framesOver1.Add(1)
		}
	}
	for _, q := range seqs {
		r := s.rep(q)
		if r == nil {
			s.r.errs.add("agent: receipt for a bad sequence", "dialog %s: %s %d", s.dialog, status, q)
			continue
		}
		switch status {
		case "ACCEPT":
			if r.flags&repAccept != 0 {
				s.r.errs.add("agent: duplicate receipt", "dialog %s: ACCEPT %d twice", s.dialog, q)
				continue
			}
			r.flags |= repAccept
			if timed {
				ph.accepts.Add(1)
			}
			if r.delivered == 0 {
				if r.seen == 0 {
					s.r.errs.add("agent: receipt never reported", "dialog %s: ACCEPT %d", s.dialog, q)
				}
				continue // READ takes its ACCEPT along
			}
			if d := time.Duration(at - r.delivered); timed {
				ph.accept.Record(d)
				ph.receipt.Record(d)
			}
		case "READ":
			if r.flags&repRead != 0 {
				s.r.errs.add("agent: duplicate receipt", "dialog %s: READ %d twice", s.dialog, q)
				continue
			}
			r.flags |= repRead
			if timed {
				ph.reads.Add(1)
			}
			if r.seen == 0 {
				s.r.errs.add("agent: receipt never reported", "dialog %s: READ %d", s.dialog, q)
				continue
			}
			if d := time.Duration(at - r.seen); timed {
				ph.read.Record(d)
				ph.receipt.Record(d)
			}
		}
	}
}

// conversation is the tab's dialog, "" before it has one.
func (s *session) conversation() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialog
}

// missing counts reported sequences whose receipt no agent saw.
func (s *session) missing() (accept, read int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reps {
		if r.delivered != 0 && r.flags&repAccept == 0 {
			accept++
		}
		if r.seen != 0 && r.flags&repRead == 0 {
			read++
		}
	}
	return accept, read
}

// held reports a session that is open, has its conversation and whose
// upstream is open.
func (s *session) held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open && s.dialog != "" && s.upstream == "open"
}

// state describes a session that is not held and whose run has not ended
// ("" for one that ended: its error was counted then).
func (s *session) state() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return ""
	}
	return fmt.Sprintf("socket open %v, conversation %q, banner %q", s.open, s.dialog, s.upstream)
}

// close ends the tab as closing a browser tab does, without waiting for
// the server's answer (the reader returns; this makes the end not count as
// an error).
func (s *session) close() {
	s.mu.Lock()
	s.closing = true
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

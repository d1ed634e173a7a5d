package simulator

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/wsconn"
)

// Close codes the service uses.
const (
	statusGoingAway    = websocket.StatusGoingAway
	statusTokenInvalid = websocket.StatusCode(protocol.CloseTokenInvalid)
)

// socketKind tells the two dialects apart.
type socketKind int

const (
	consumerSocket socketKind = iota
	agentSocket
)

// outFrame is one item of a socket's outbox: a frame to write, or the
// instruction to close after everything queued before it was written.
type outFrame struct {
	data   []byte
	close  bool
	code   websocket.StatusCode
	reason string
}

// socket is one accepted WebSocket. Its HTTP handler's goroutine reads
// (serve); a writer goroutine drains the bounded outbox, so that the service
// never blocks on a slow peer: a socket whose outbox is full is closed.
type socket struct {
	s     *Service
	conn  *websocket.Conn
	batch *wsconn.Batch // under conn's writer: the writer's frames, one syscall per drain
	log   *slog.Logger
	kind  socketKind

	out       chan outFrame
	closing   atomic.Bool   // a close is queued or under way: drop further frames
	killed    chan struct{} // closed by kill: close now, skipping the queue
	killOnce  sync.Once
	killCode  websocket.StatusCode
	killText  string
	readDone  chan struct{} // closed when the reading goroutine stops reading
	writeDone chan struct{} // closed when the writer has ended

	born       time.Time
	lastActive atomic.Int64 // nanoseconds since born of the last frame or ping received
	authed     atomic.Bool  // consumer: authenticated (header or InitConnection)
	limiter    limiter      // touched by the reading goroutine only
	// life is the consumer socket's token (set under Service.mu, read by
	// the writer); expiryChecks counts the writer's looks at it.
	life         atomic.Pointer[tokenLife]
	expiryChecks atomic.Int64

	// Guarded by Service.mu.
	consumerID string        // consumer socket, once authenticated
	agent      *agentAccount // agent socket
	session    *agentSession // agent socket: the login it was opened with
	routingSub string        // agent socket: routing subscription id, "" when none
	subs       map[*convSub]struct{}
	dialogSubs map[*dialog]struct{}

	// clientProps are a consumer socket's client properties (its
	// Client-Properties header, or InitConnection's), if it sent any.
	// Guarded by Service.mu.
	clientProps *protocol.Header
}

func newSocket(s *Service, conn *websocket.Conn, batch *wsconn.Batch, kind socketKind, log *slog.Logger) *socket {
	c := &socket{
		s:          s,
		conn:       conn,
		batch:      batch,
		log:        log,
		kind:       kind,
		out:        make(chan outFrame, s.outbox),
		killed:     make(chan struct{}),
		readDone:   make(chan struct{}),
		writeDone:  make(chan struct{}),
		born:       time.Now(),
		limiter:    limiter{rate: s.cfg.RateLimit, burst: float64(s.cfg.RateBurst), tokens: float64(s.cfg.RateBurst), last: time.Now()},
		subs:       map[*convSub]struct{}{},
		dialogSubs: map[*dialog]struct{}{},
	}
	conn.SetReadLimit(maxFrameBytes)
	return c
}

// touch records that something was received (a frame or a ping).
func (c *socket) touch() { c.lastActive.Store(int64(time.Since(c.born))) }

// send queues a frame without blocking. A full outbox closes the socket
// (policy violation): the peer is too slow to keep up.
func (c *socket) send(f protocol.Frame) {
	if c.closing.Load() {
		return
	}
	// The frame's own encoding: the same bytes as protocol.Marshal(f)
	// (internal/protocol's TestFastEncodeAgrees), without boxing the frame
	// into Marshal's any (an allocation per frame).
	data, err := f.MarshalJSON()
	if err != nil {
		c.log.Error("encode frame", "type", f.Type, "err", err)
		return
	}
	c.queue(data)
}

// queue queues an encoded frame as send does. A frame for many sockets is
// encoded once and its bytes queued on each: nothing changes them.
func (c *socket) queue(data []byte) {
	if c.closing.Load() {
		return
	}
	select {
	case <-c.writeDone:
	case c.out <- outFrame{data: data}:
	default:
		c.abort()
	}
}

// abort cuts a socket whose outbox overflowed. No close frame: a peer that
// left a thousand frames unread would not read it either, and the writer
// may be stuck in a write that only cutting the connection ends.
func (c *socket) abort() {
	c.closing.Store(true)
	c.killOnce.Do(func() {
		c.log.Warn("outbox full, cutting the socket")
		_ = c.conn.CloseNow()
	})
}

// closeAfterQueued closes the socket once every frame queued so far is
// written (a 401 response, then 4401).
func (c *socket) closeAfterQueued(code websocket.StatusCode, reason string) {
	if c.closing.Swap(true) {
		return
	}
	select {
	case c.out <- outFrame{close: true, code: code, reason: reason}:
	default:
		c.abort()
	}
}

// kill closes the socket now, dropping whatever is queued.
func (c *socket) kill(code websocket.StatusCode, reason string) {
	c.killOnce.Do(func() {
		c.closing.Store(true)
		c.killCode, c.killText = code, reason
		close(c.killed)
	})
}

// respond queues a response to request f.
func (c *socket) respond(f protocol.Frame, code int, typ string, body any) {
	r, err := protocol.NewResponse(f.ID, code, typ, body)
	if err != nil {
		c.log.Error("encode response", "type", typ, "err", err)
		return
	}
	c.send(r)
}

// fail queues an error response: a short string body and no type, so that
// clients which transform responses by type (the agent SDK does) never see
// an error text where they expect a result.
func (c *socket) fail(f protocol.Frame, code int, text string) {
	c.respond(f, code, "", text)
}

// notify queues a notification.
func (c *socket) notify(typ string, body any) {
	n, err := protocol.NewNotification(typ, body)
	if err != nil {
		c.log.Error("encode notification", "type", typ, "err", err)
		return
	}
	c.send(n)
}

// serve runs the socket until it closes: the writer goroutine, then the
// read loop in the caller's goroutine. handle is called for every request
// that passed the rate limit and parsed. initDeadline, when non-zero,
// closes the socket with 4401 unless it is authenticated by then.
func (c *socket) serve(handle func(protocol.Frame), initDeadline time.Duration) {
	c.touch()
	// The writer ends when the socket closes: on kill, a queued close, a
	// write error, the idle or init deadline, or the reader stopping.
	go c.writeLoop(initDeadline)
	for {
		// Reads are never cancelled: the loop ends when the connection
		// closes (the writer closes it), and cancelling a coder/websocket
		// read would close it without a close frame. A context that can
		// be cancelled would cost an AfterFunc registered per read.
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == -1 {
				c.log.Debug("socket read ended", "err", err)
			}
			break
		}
		c.touch()
		if c.closing.Load() {
			continue
		}
		if !c.limiter.allow(time.Now()) {
			f, _ := protocol.ParseFrame(data)
			c.fail(f, 429, "rate limited: retry in a second")
			continue
		}
		if typ != websocket.MessageText {
			c.fail(protocol.Frame{}, 400, "binary frames are not accepted")
			continue
		}
		f, err := protocol.ParseFrame(data)
		if err != nil {
			c.fail(f, 400, err.Error())
			continue
		}
		if f.Kind != protocol.KindReq {
			c.fail(f, 400, "only requests are accepted")
			continue
		}
		if f.ID == "" || len(f.ID) > maxIDChars {
			c.fail(f, 400, "request id must have 1 to 64 characters")
			continue
		}
		handle(f)
	}
	close(c.readDone)
	<-c.writeDone
}

// writeLoop writes queued frames within a time limit, and closes the
// connection when told to or when a deadline passes.
func (c *socket) writeLoop(initDeadline time.Duration) {
	defer close(c.writeDone)
	// Cutting the connection ends a write that outlasts the limit, as a
	// context's expiry would (wsconn.WriteLimit says why not a context).
	limit := wsconn.NewWriteLimit(c.s.writeTimeout, func() {
		c.log.Debug("socket write timed out")
		_ = c.conn.CloseNow()
	})
	idleLimit := idleLimit(c.s.cfg.IdleTimeout, c.kind)
	idle := time.NewTimer(idleLimit)
	defer idle.Stop()
	var initC <-chan time.Time
	if initDeadline > 0 {
		t := time.NewTimer(initDeadline)
		defer t.Stop()
		initC = t.C
	}
	var expiryC <-chan time.Time
	if c.kind == consumerSocket {
		t := time.NewTicker(c.s.cfg.ExpiryCheck)
		defer t.Stop()
		expiryC = t.C
	}
	for {
		select {
		case m := <-c.out:
			closing, err := c.drain(limit, m)
			if err != nil {
				c.log.Debug("socket write failed", "err", err)
				_ = c.conn.CloseNow()
				return
			}
			if closing != nil {
				c.closeConn(closing.code, closing.reason)
				return
			}
		case <-c.killed:
			c.closeConn(c.killCode, c.killText)
			return
		case <-c.readDone:
			_ = c.conn.CloseNow()
			return
		case <-initC:
			if !c.authed.Load() {
				c.closing.Store(true)
				c.closeConn(statusTokenInvalid, "no InitConnection")
				return
			}
		case <-expiryC:
			if code, expired := c.checkExpiry(); expired {
				c.closing.Store(true)
				c.closeConn(code, "token expired")
				return
			}
		case <-idle.C:
			since := time.Since(c.born) - time.Duration(c.lastActive.Load())
			if since >= idleLimit {
				c.closing.Store(true)
				c.closeConn(websocket.StatusPolicyViolation, "idle")
				return
			}
			idle.Reset(idleLimit - since)
		}
	}
}

// drain writes m and every frame queued behind it, in one syscall (the
// batch): a response and the notifications its request caused are usually
// queued together. It stops at a queued close, which it returns, written
// after everything before it.
func (c *socket) drain(limit *wsconn.WriteLimit, m outFrame) (closing *outFrame, err error) {
	err = limit.Do(func() error {
		c.batch.Hold()
		for {
			if m.close {
				closing = &m
				break
			}
			if err := c.conn.Write(context.Background(), websocket.MessageText, m.data); err != nil {
				c.batch.Release()
				return err
			}
			select {
			case m = <-c.out:
				continue
			default:
			}
			break
		}
		return c.batch.Release()
	})
	return closing, err
}

// idleLimit is how long a socket may stay silent: IdleTimeout plus a tenth
// on consumer sockets, plus a half on agent sockets, because LivePerson's
// agent SDK pings exactly every 60 s (the default IdleTimeout) and sends
// nothing else on a quiet socket.
func idleLimit(timeout time.Duration, kind socketKind) time.Duration {
	if kind == agentSocket {
		return timeout + timeout/2
	}
	return timeout + timeout/10
}

func (c *socket) closeConn(code websocket.StatusCode, reason string) {
	c.log.Debug("closing socket", "code", int(code), "reason", reason)
	if err := c.conn.Close(code, reason); err != nil {
		_ = c.conn.CloseNow()
	}
}

// limiter is a token bucket on the real (monotonic) clock, not the
// service clock: a test that freezes Now must not freeze the budget.
type limiter struct {
	rate, burst, tokens float64
	last                time.Time
}

func (l *limiter) allow(now time.Time) bool {
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

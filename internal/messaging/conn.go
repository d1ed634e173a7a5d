package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/keepalive"
	"github.com/chatwindow/chatwindow/internal/linger"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/wsconn"
)

// Defaults of DialOptions.
const (
	DefaultRequestTimeout = 10 * time.Second // LivePerson's own default
	DefaultPingInterval   = 30 * time.Second // the service closes sockets idle for 60 s
	DefaultReadLimit      = 16 << 20         // a replay of a long dialog is one big frame
	DefaultMaxQueued      = 10000            // notifications waiting for the handler
	writeTimeout          = 10 * time.Second
)

// DialOptions configure one socket.
type DialOptions struct {
	// Token is the consumer's JWT. It is sent as the "Authorization: jwt"
	// upgrade header, or in InitConnection when InitConnection is set. Agent
	// sockets carry their bearer in the URL and leave it empty.
	Token string
	// InitConnection authenticates with a first InitConnection request (as
	// browsers must) instead of the upgrade header.
	InitConnection bool
	// ClientProperties go in the Client-Properties upgrade header, or in
	// InitConnection's headers. Nil sends none.
	ClientProperties *protocol.Header
	HTTPClient       *http.Client
	Logger           *slog.Logger
	RequestTimeout   time.Duration // 0 means DefaultRequestTimeout
	PingInterval     time.Duration // 0 means DefaultPingInterval; < 0 disables pings
	ReadLimit        int64         // 0 means DefaultReadLimit
	MaxQueued        int           // 0 means DefaultMaxQueued

	// OnNotification receives every notification, in the order the service
	// sent them, from one goroutine of the Conn; nil drops them. It may block
	// (responses keep flowing meanwhile: the socket is read by another
	// goroutine into a queue), but if more than MaxQueued notifications pile
	// up the socket is dropped with ErrSlowHandler. received is when the
	// frame was read off the socket (relay latency is measured from it).
	OnNotification func(f protocol.Frame, received time.Time)
	// Tap, when set, sees every frame sent (out true) and received, for a
	// protocol inspector. It must not block nor keep data.
	Tap func(out bool, data []byte)

	// readByCaller: Dial starts no reader and sends no InitConnection; the
	// caller (a session's supervisor) reads the socket itself with
	// readLoop and authenticates with initConnection meanwhile, so that a
	// connected session costs one goroutine less.
	readByCaller bool
}

// DefaultClientProperties are what a desktop web client announces.
func DefaultClientProperties() *protocol.Header {
	return &protocol.Header{
		Type:         ".ams.headers.ClientProperties",
		DeviceFamily: "DESKTOP",
		OS:           "LINUX",
		Integration:  "WEB_SDK",
		Features:     protocol.Strings{"RICH_CONTENT", "QUICK_REPLIES", "MULTI_DIALOG"},
	}
}

// Conn is one messaging socket, without reconnection: requests matched to
// responses by id, notifications handed over in order, pings. It ends when
// the socket fails, the service closes it or answers a request 401, or
// Close is called; Err then says why.
//
// While idle it costs one goroutine, its reader: notifications are handed
// over by a goroutine that runs only while some wait, and pings come from
// a timer (a server holds one Conn per browser session: docs/performance.md).
type Conn struct {
	ws    *websocket.Conn
	limit *wsconn.WriteLimit // bounds every write: writeTimeout
	log   *slog.Logger
	opts  DialOptions

	// ctx ends when the socket ends; it bounds writes, pings and waits.
	ctx    context.Context
	cancel context.CancelFunc

	nextID atomic.Uint64

	mu        sync.Mutex
	pending   map[string]waiter
	err       error // why the socket ended, set once
	queue     []queued
	worker    *linger.Worker // the delivery goroutine, while notifications wait
	readEnded bool           // the read loop has ended
	dropQueue bool           // Close: what is queued is not delivered

	pinger   *keepalive.Pinger
	doneOnce sync.Once
	done     chan struct{} // read loop, delivery and pings have ended
}

// waiter is a request waiting for its response.
type waiter struct {
	ch chan protocol.Frame // buffered: one response
	// atResponse, when set, runs on the delivery goroutine at the
	// response's place among the notifications (see requestInOrder).
	atResponse func(protocol.Frame)
}

// queued is a notification waiting for delivery, or a function to run in
// its place (see runInOrder).
type queued struct {
	f  protocol.Frame
	at time.Time // when f was read
	fn func()
}

// Dial opens a socket to url (ws:// or wss://) and, with InitConnection,
// authenticates before returning. ctx bounds only the dial itself.
func Dial(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = DefaultMaxQueued
	}
	hdr := http.Header{}
	if !opts.InitConnection {
		if opts.Token != "" {
			hdr.Set("Authorization", "jwt "+opts.Token)
		}
		if opts.ClientProperties != nil {
			b, err := protocol.Marshal(opts.ClientProperties)
			if err != nil {
				return nil, fmt.Errorf("dial %s: client properties: %w", redact(url), err)
			}
			hdr.Set("Client-Properties", string(b))
		}
	}
	dctx, cancel := context.WithTimeout(ctx, opts.RequestTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{
		HTTPClient: opts.HTTPClient,
		HTTPHeader: hdr,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			se := &StatusError{Op: "dial", URL: redact(url), StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header)}
			if resp.StatusCode == http.StatusUnauthorized {
				return nil, fmt.Errorf("%w: %w", ErrTokenRejected, se)
			}
			return nil, se
		}
		return nil, fmt.Errorf("dial %s: %w", redact(url), err)
	}
	ws.SetReadLimit(opts.ReadLimit)

	c := &Conn{
		ws:      ws,
		log:     opts.Logger,
		opts:    opts,
		pending: map[string]waiter{},
		worker:  linger.NewWorker(),
		done:    make(chan struct{}),
	}
	// The socket's own context: not the dial's, which ends when Dial returns.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.limit = wsconn.NewWriteLimit(writeTimeout, func() { _ = c.ws.CloseNow() })
	if opts.PingInterval > 0 {
		c.pinger = keepalive.Start(opts.PingInterval, func() error {
			ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
			defer cancel()
			return c.ws.Ping(ctx)
		}, func(err error) {
			if c.ctx.Err() == nil {
				c.fail(fmt.Errorf("ping: %w", err))
			}
		})
	}
	if opts.readByCaller {
		return c, nil
	}
	// Reads until the socket fails or is closed; then stops the pings and,
	// once what was read has been delivered, closes done.
	go c.readLoop()

	if opts.InitConnection {
		if err := c.initConnection(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial %s: %w", redact(url), err)
		}
	}
	return c, nil
}

// redact hides the bearer in an agent socket URL (it is a credential).
func redact(u string) string {
	const marker = "/messaging/brand/"
	before, rest, ok := strings.Cut(u, marker)
	if !ok {
		return u
	}
	if i := strings.IndexAny(rest, "?/"); i >= 0 {
		return before + marker + "…" + rest[i:]
	}
	return before + marker + "…"
}

func (c *Conn) initConnection(ctx context.Context) error {
	headers := protocol.List[protocol.Header]{}
	if c.opts.ClientProperties != nil {
		headers = append(headers, *c.opts.ClientProperties)
	}
	headers = append(headers, protocol.Header{Type: ".ams.headers.ConsumerAuthentication", JWT: c.opts.Token})
	f := protocol.Frame{Kind: protocol.KindReq, ID: protocol.ID(c.newID()), Type: protocol.TypeInitConnection, Headers: headers}
	resp, err := c.roundTrip(ctx, f, nil)
	if err != nil {
		return err
	}
	if err := resp.ResponseError(); err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == http.StatusUnauthorized {
			return fmt.Errorf("%s: %w: %w", protocol.TypeInitConnection, ErrTokenRejected, err)
		}
		return fmt.Errorf("%s: %w", protocol.TypeInitConnection, err)
	}
	return nil
}

func (c *Conn) newID() string { return strconv.FormatUint(c.nextID.Add(1), 10) }

// Request sends a request of type typ with body (nil for none) and waits for
// its response, decoding the body into out (nil to ignore it; a *string
// takes a string body). A response with code >= 400 is returned as a
// *protocol.Error (wrapped); no response within the request timeout is
// ErrTimeout; a socket that ends first is ErrClosed. A response 401 also
// ends the socket, with ErrTokenRejected: the token is no longer taken.
func (c *Conn) Request(ctx context.Context, typ string, body, out any) error {
	return c.requestInOrder(ctx, typ, body, out, nil)
}

// requestInOrder is Request that also runs atResponse (when not nil) on the
// delivery goroutine at the response's place in the stream: after every
// notification received before the response, before any received after it.
// It runs for any response that arrives while the request waits, errors
// included.
func (c *Conn) requestInOrder(ctx context.Context, typ string, body, out any, atResponse func(protocol.Frame)) error {
	f, err := protocol.NewRequest(c.newID(), typ, body)
	if err != nil {
		return err
	}
	resp, err := c.roundTrip(ctx, f, atResponse)
	if err != nil {
		return err
	}
	if err := resp.ResponseError(); err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	if out != nil {
		if err := resp.DecodeBody(out); err != nil {
			return fmt.Errorf("%s response: %w", typ, err)
		}
	}
	return nil
}

// RoundTrip sends a request frame as it is (its ID must be unique on this
// socket; leave it empty to get one) and returns the response frame,
// whatever its code (a 401 also ends the socket, as for Request).
func (c *Conn) RoundTrip(ctx context.Context, f protocol.Frame) (protocol.Frame, error) {
	f.Kind = protocol.KindReq
	if f.ID == "" {
		f.ID = protocol.ID(c.newID())
	}
	return c.roundTrip(ctx, f, nil)
}

func (c *Conn) roundTrip(ctx context.Context, f protocol.Frame, atResponse func(protocol.Frame)) (protocol.Frame, error) {
	id := string(f.ID)
	b, err := protocol.Marshal(f)
	if err != nil {
		return protocol.Frame{}, fmt.Errorf("encode %s: %w", f.Type, err)
	}
	ch := make(chan protocol.Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return protocol.Frame{}, fmt.Errorf("%s: %w: %w", f.Type, ErrClosed, err)
	}
	c.pending[id] = waiter{ch: ch, atResponse: atResponse}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	if err := c.write(b); err != nil {
		return protocol.Frame{}, fmt.Errorf("%s: %w", f.Type, err)
	}
	timer := time.NewTimer(c.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case resp := <-ch:
		if resp.Code == http.StatusUnauthorized {
			// The service no longer takes this socket's token (it expired
			// while the socket was open, or was revoked): the socket ends
			// as refused, so that a session gets a fresh token and
			// reconnects, and what was refused is sent again then
			// (Classify: RefreshToken).
			c.fail(fmt.Errorf("%s: %w: %w", f.Type, ErrTokenRejected, resp.ResponseError()))
		}
		return resp, nil
	case <-timer.C:
		return protocol.Frame{}, fmt.Errorf("%s (id %s) after %s: %w", f.Type, id, c.opts.RequestTimeout, ErrTimeout)
	case <-ctx.Done():
		return protocol.Frame{}, fmt.Errorf("%s: %w", f.Type, ctx.Err())
	case <-c.ctx.Done():
		return protocol.Frame{}, fmt.Errorf("%s: %w: %w", f.Type, ErrClosed, c.Err())
	}
}

// write sends one text frame with a deadline; a write that fails or times
// out ends the socket (coder/websocket closes it).
func (c *Conn) write(b []byte) error {
	if c.opts.Tap != nil {
		c.opts.Tap(true, b)
	}
	// Not c.ctx: fail and Close end a write by closing the socket, and the
	// limit's timer is the socket's, not the frame's (wsconn.WriteLimit).
	err := c.limit.Do(func() error {
		return c.ws.Write(context.Background(), websocket.MessageText, b)
	})
	if err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return fmt.Errorf("%w: %w", ErrClosed, c.Err())
	}
	return nil
}

func (c *Conn) readLoop() {
	defer func() {
		c.pinger.Stop()
		c.mu.Lock()
		c.readEnded = true
		idle := !c.worker.Running()
		c.worker.Wake() // a lingering delivery goroutine finishes
		c.mu.Unlock()
		if idle {
			c.finish()
		}
	}()
	for {
		// Not c.ctx: fail and Close end the read by closing the socket
		// (CloseNow), and a context that can be cancelled costs
		// coder/websocket an AfterFunc registered and removed per frame.
		typ, b, err := c.ws.Read(context.Background())
		at := time.Now()
		if err != nil {
			c.fail(err)
			return
		}
		if c.opts.Tap != nil {
			c.opts.Tap(false, b)
		}
		if typ != websocket.MessageText {
			c.log.Warn("messaging: binary frame ignored", "bytes", len(b))
			continue
		}
		f, err := protocol.ParseFrame(b)
		if err != nil {
			c.log.Warn("messaging: malformed frame ignored", "error", err)
			continue
		}
		switch f.Kind {
		case protocol.KindResp:
			c.mu.Lock()
			w, ok := c.pending[string(f.ReqID)]
			delete(c.pending, string(f.ReqID))
			if ok && w.atResponse != nil {
				at, resp := w.atResponse, f
				c.queue = append(c.queue, queued{fn: func() { at(resp) }})
				c.deliverLocked()
			}
			c.mu.Unlock()
			if !ok {
				c.log.Debug("messaging: response to no pending request", "req_id", string(f.ReqID), "type", f.Type, "code", f.Code)
				continue
			}
			w.ch <- f // buffered, one response per request
		case protocol.KindNotification:
			c.mu.Lock()
			if len(c.queue) >= c.opts.MaxQueued {
				c.mu.Unlock()
				c.fail(ErrSlowHandler)
				return
			}
			c.queue = append(c.queue, queued{f: f, at: at})
			c.deliverLocked()
			c.mu.Unlock()
		default:
			c.log.Debug("messaging: frame of unexpected kind ignored", "kind", f.Kind, "type", f.Type)
		}
	}
}

// deliverLocked starts a delivery goroutine when notifications wait and
// none runs, or wakes the one that lingers. The caller holds mu.
func (c *Conn) deliverLocked() {
	c.worker.Kick(len(c.queue) > 0 && !c.dropQueue, func() {
		// Runs until the queue has stayed empty for linger.For (a busy
		// socket keeps one); the last one out after the read loop closes
		// done.
		go c.worker.Loop(&c.mu, nil, c.nextDelivery, c.delivered)
	})
}

// nextDelivery is the delivery goroutine's next notification, with mu
// held. When the socket has failed it still delivers what was received
// before, so that nothing read is lost; after Close it stops. It lingers
// only while the socket reads.
func (c *Conn) nextDelivery() (work func(), linger bool) {
	if len(c.queue) == 0 || c.dropQueue {
		return nil, !c.readEnded && !c.dropQueue
	}
	q := c.queue[0]
	c.queue[0] = queued{}
	c.queue = c.queue[1:]
	if len(c.queue) == 0 {
		c.queue = nil // let a burst's backing array go
	}
	return func() {
		switch {
		case q.fn != nil:
			q.fn()
		case c.opts.OnNotification != nil:
			c.opts.OnNotification(q.f, q.at)
		}
	}, false
}

// delivered: the delivery goroutine ends (mu held); the last one out after
// the read loop closes done.
func (c *Conn) delivered() {
	if c.readEnded {
		c.finish()
	}
}

// finish closes done (once): the reader has ended and nothing is being
// delivered.
func (c *Conn) finish() { c.doneOnce.Do(func() { close(c.done) }) }

// runInOrder queues fn to run on the delivery goroutine after every
// notification received so far, so that what fn delivers keeps its place
// in the stream. It reports false when the socket has ended (fn will not
// run).
func (c *Conn) runInOrder(fn func()) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, queued{fn: fn})
	c.deliverLocked()
	c.mu.Unlock()
	return true
}

// fail records why the socket ended (the first reason wins), ends its
// context and closes it without a handshake.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
	}
	c.mu.Unlock()
	if first {
		c.cancel()
		_ = c.ws.CloseNow()
	}
}

// Done is closed when the socket has ended and every notification read
// before has been delivered.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the socket ended (nil while it is open). A close by the
// service is a websocket.CloseError (see IsTokenRejected).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the socket normally and waits for its goroutines;
// notifications not yet delivered are dropped.
func (c *Conn) Close() error {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = ErrClosed
	}
	c.queue = nil
	c.dropQueue = true
	c.worker.Wake()
	c.mu.Unlock()
	if first {
		// The close handshake needs the read loop, which is still running.
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
		c.cancel()
		_ = c.ws.CloseNow()
	}
	<-c.done
	return nil
}

// GetClock asks the service's time (also a keep-alive), in epoch ms.
func (c *Conn) GetClock(ctx context.Context) (int64, error) {
	var resp protocol.GetClockResponse
	if err := c.Request(ctx, protocol.TypeGetClock, json.RawMessage(`{}`), &resp); err != nil {
		return 0, err
	}
	return resp.CurrentTime, nil
}

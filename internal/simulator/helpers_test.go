package simulator

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testAccount = "123"
	waitLimit   = 5 * time.Second
)

// testKey is a fixed signing key (testdata/signing_key.pem): generating a
// 2048-bit key under the race detector takes seconds.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	b, err := os.ReadFile("testdata/signing_key.pem")
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		panic("testdata/signing_key.pem: no PEM block")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return k
})

// env is a service behind a real loopback HTTP server.
type env struct {
	t     testing.TB
	svc   *Service
	srv   *httptest.Server
	clock *testclock.Clock // the service's
}

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newEnv(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	clock := testclock.New(epoch)
	var n atomic.Int64
	cfg := Config{
		Account:    testAccount,
		Agents:     []Agent{{Name: "alice", Password: "pw-a"}, {Name: "bob", Password: "pw-b"}},
		SigningKey: testKey(),
		Now:        clock.Now,
		NewID:      func() string { return fmt.Sprintf("id-%d", n.Add(1)) },
	}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	return &env{t: t, svc: svc, srv: srv, clock: clock}
}

func (e *env) url(path string) string { return e.srv.URL + path }

func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path }

// post sends a JSON body and decodes a JSON answer into out (when non-nil).
func (e *env) post(path string, body any, out any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	resp, err := http.Post(e.url(path), "application/json", r)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			e.t.Fatalf("POST %s: decode: %v", path, err)
		}
	}
	return resp.StatusCode
}

// signup returns a fresh consumer token.
func (e *env) signup() string {
	e.t.Helper()
	var out protocol.SignupResponse
	if code := e.post(protocol.Path(protocol.PathSignup, testAccount), nil, &out); code != 200 || out.JWT == "" {
		e.t.Fatalf("signup: %d %+v", code, out)
	}
	return out.JWT
}

// login logs an agent in.
func (e *env) login(name, password string) protocol.LoginResponse {
	e.t.Helper()
	var out protocol.LoginResponse
	if code := e.post(protocol.Path(protocol.PathAgentLogin, testAccount)+"?v=1.3",
		protocol.LoginRequest{Username: name, Password: password}, &out); code != 200 {
		e.t.Fatalf("login %s: %d", name, code)
	}
	return out
}

// client is a test WebSocket peer that records every frame it receives.
type client struct {
	t    testing.TB
	conn *websocket.Conn

	mu     sync.Mutex
	inbox  []protocol.Frame
	signal chan struct{}
	done   chan struct{}
	err    error
	ids    int
}

// dial opens a socket; it fails the test unless the upgrade succeeds.
func (e *env) dial(path string, header http.Header) *client {
	e.t.Helper()
	c, resp, err := e.tryDial(path, header)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		e.t.Fatalf("dial %s: %v (HTTP %d)", path, err, code)
	}
	return c
}

func (e *env) tryDial(path string, header http.Header) (*client, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, e.wsURL(path), &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	c := &client{t: e.t, conn: conn, signal: make(chan struct{}, 1), done: make(chan struct{})}
	// The reader ends when the connection closes (at the latest in Cleanup).
	go c.read()
	e.t.Cleanup(func() {
		_ = conn.CloseNow()
		<-c.done
	})
	return c, resp, nil
}

// consumer opens a consumer socket authenticated by header.
func (e *env) consumer(token string) *client {
	e.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "jwt "+token)
	return e.dial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h)
}

// agent logs in and opens an agent socket.
func (e *env) agent(name string) (*client, protocol.LoginResponse) {
	e.t.Helper()
	pw := map[string]string{"alice": "pw-a", "bob": "pw-b"}[name]
	l := e.login(name, pw)
	return e.dial(protocol.Path(protocol.PathAgentSocket, testAccount, l.Bearer)+"?v=2.1", nil), l
}

func (c *client) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		f, err := protocol.ParseFrame(data)
		if err != nil {
			f = protocol.Frame{Kind: "unparsable", Body: data}
		}
		c.mu.Lock()
		c.inbox = append(c.inbox, f)
		c.mu.Unlock()
		select {
		case c.signal <- struct{}{}:
		default:
		}
	}
}

// take removes and returns the first received frame that matches.
func (c *client) take(desc string, match func(protocol.Frame) bool) protocol.Frame {
	c.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	closed := false
	for {
		c.mu.Lock()
		for i, f := range c.inbox {
			if match(f) {
				c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return f
			}
		}
		c.mu.Unlock()
		if closed {
			c.t.Fatalf("socket closed (%v) while waiting for %s", c.err, desc)
		}
		select {
		case <-c.signal:
		case <-c.done:
			closed = true
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s; inbox: %s", desc, c.dump())
		}
	}
}

func (c *client) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, f := range c.inbox {
		j, _ := protocol.Marshal(f)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// next returns the next frame in arrival order.
func (c *client) next() protocol.Frame {
	c.t.Helper()
	return c.take("any frame", func(protocol.Frame) bool { return true })
}

// resp waits for the response to request id.
func (c *client) resp(id string) protocol.Frame {
	c.t.Helper()
	return c.take("response to "+id, func(f protocol.Frame) bool {
		return f.Kind == protocol.KindResp && string(f.ReqID) == id
	})
}

// notif waits for the first notification of a type.
func (c *client) notif(typ string) protocol.Frame {
	c.t.Helper()
	return c.take("notification "+typ, func(f protocol.Frame) bool {
		return f.Kind == protocol.KindNotification && f.Type == typ
	})
}

// sendRaw writes one text frame as it is.
func (c *client) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes a request and returns its id.
func (c *client) send(typ string, body any) string {
	c.t.Helper()
	c.ids++
	id := fmt.Sprintf("r%d", c.ids)
	f, err := protocol.NewRequest(id, typ, body)
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := protocol.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
	return id
}

// req sends a request and waits for its response.
func (c *client) req(typ string, body any) protocol.Frame {
	c.t.Helper()
	return c.resp(c.send(typ, body))
}

// ok sends a request and fails the test unless it gets 200.
func (c *client) ok(typ string, body any) protocol.Frame {
	c.t.Helper()
	r := c.req(typ, body)
	if r.Code != 200 {
		c.t.Fatalf("%s: %d %s", typ, r.Code, r.BodyString())
	}
	return r
}

// wantCode sends a request and checks the response code.
func (c *client) wantCode(code int, typ string, body any) protocol.Frame {
	c.t.Helper()
	r := c.req(typ, body)
	if r.Code != code {
		c.t.Fatalf("%s: got %d %s, want %d", typ, r.Code, r.BodyString(), code)
	}
	return r
}

// closeStatus waits until the server closes the socket and returns the code.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		c.t.Fatal("socket not closed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return websocket.CloseStatus(c.err)
}

// decode decodes a frame's body.
func decode[T any](t testing.TB, f protocol.Frame) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(f.Body, &v); err != nil {
		t.Fatalf("decode %s body %s: %v", f.Type, f.Body, err)
	}
	return v
}

// openConversation requests a conversation and returns its id.
func (c *client) openConversation() string {
	c.t.Helper()
	r := c.ok(protocol.TypeConsumerRequestConversation, nil)
	return decode[protocol.RequestConversationResponse](c.t, r).ConversationID
}

func text(dialogID, msg string) protocol.PublishEvent {
	return protocol.PublishEvent{DialogID: dialogID, ConversationID: dialogID,
		Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: msg}}
}

func receipt(dialogID, status string, seqs ...int64) protocol.PublishEvent {
	return protocol.PublishEvent{DialogID: dialogID, ConversationID: dialogID,
		Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: seqs}}
}

func closeConv(id string) protocol.UpdateConversationField {
	return protocol.UpdateConversationField{ConversationID: id,
		ConversationField: protocol.List[protocol.ConversationField]{{Field: protocol.FieldConversationState, ConversationState: protocol.StateClose}}}
}

// closeDialog closes one dialog of conversation conv (DialogChange).
func closeDialog(conv, dialogID string) protocol.UpdateConversationField {
	return protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
		{Field: protocol.FieldDialogChange, Type: "UPDATE", Dialog: &protocol.DialogChange{DialogID: dialogID, State: protocol.StateClose, ClosedCause: "Closed by consumer"}}}}
}

// onlineAgent opens an agent socket that is ONLINE and subscribed to
// routing tasks.
func (e *env) onlineAgent(name string) (*client, protocol.LoginResponse) {
	e.t.Helper()
	a, l := e.agent(name)
	a.ok(".ams.routing.SetAgentState", protocol.SetAgentState{Availability: "ONLINE", Channels: protocol.Strings{"MESSAGING"}})
	a.ok(".ams.routing.SubscribeRoutingTasks", protocol.SubscribeRoutingTasks{ChannelType: "MESSAGING", BrandID: testAccount})
	return a, l
}

const (
	ringNotif   = ".ams.routing.RoutingTaskNotification"
	onlineEvent = ".ams.ms.OnlineEventDistribution"
	aamNotif    = ".ams.aam.ExConversationChangeNotification"
)

// nextRing waits for the next ring notification and returns its task.
func (c *client) nextRing() protocol.RoutingTask {
	c.t.Helper()
	n := c.notif(ringNotif)
	b := decode[protocol.RoutingTaskNotification](c.t, n)
	if len(b.Changes) != 1 || len(b.Changes[0].Result.RingsDetails) != 1 {
		c.t.Fatalf("ring notification: %s", n.Body)
	}
	return b.Changes[0].Result
}

// assign makes the named agent the conversation's assigned agent through a
// ring, and returns its socket and login.
func (e *env) assign(name string) (*client, protocol.LoginResponse) {
	e.t.Helper()
	a, l := e.onlineAgent(name)
	task := a.nextRing()
	a.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: task.RingsDetails[0].RingID, RingState: "ACCEPTED"})
	return a, l
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitLimit)
}

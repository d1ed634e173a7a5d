package simulator

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// BenchmarkRelayedMessage is the service's work for one agent message as
// the chat window relays it, over real loopback sockets: the agent
// publishes a text; the consumer socket gets its notification; the
// consumer publishes ACCEPT and READ of it; each request is answered and
// echoed to the consumer and to the agent. One op is one such message:
// three requests in, nine frames out. The peers are raw sockets that
// write prepared frames and read into reused buffers, so that what the op
// costs is mostly the service's.
func BenchmarkRelayedMessage(b *testing.B) {
	e := newEnv(b, func(c *Config) {
		// One agent socket sends three requests per op, far past the
		// default budget.
		c.RateLimit, c.RateBurst = 1e12, 1<<30
	})
	h := http.Header{}
	h.Set("Authorization", "jwt "+e.signup())
	consumer := dialPeer(b, e, protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h)
	consumer.write(frameBytes(b, "c", protocol.TypeConsumerRequestConversation, nil))
	conv := decode[protocol.RequestConversationResponse](b, consumer.frame()).ConversationID

	l := e.login("alice", "pw-a")
	agent := dialPeer(b, e, protocol.Path(protocol.PathAgentSocket, testAccount, l.Bearer)+"?v=2.1", nil)
	agent.write(frameBytes(b, "j", protocol.TypeUpdateConversationField, protocol.UpdateConversationField{ConversationID: conv,
		ConversationField: protocol.List[protocol.ConversationField]{{Field: protocol.FieldParticipantsChange, Type: "ADD", Role: protocol.RoleAssignedAgent}}}))
	if f := agent.frame(); f.Code != 200 {
		b.Fatalf("join: %d %s", f.Code, f.BodyString())
	}

	msg := frameBytes(b, "t", protocol.TypePublishEvent, text(conv, "hello, how can I help?"))
	// The receipts name the message's sequence: a template split where it
	// goes, filled in per op without an encoder.
	const mark = 987654321
	acceptHead, acceptTail := splitAt(b, frameBytes(b, "a", protocol.TypePublishEvent, receipt(conv, protocol.StatusAccept, mark)), mark)
	readHead, readTail := splitAt(b, frameBytes(b, "r", protocol.TypePublishEvent, receipt(conv, protocol.StatusRead, mark)), mark)
	var accept, read []byte

	var (
		ok           = []byte(`"code":200`)
		consumerNote = []byte(`"type":"ms.MessagingEventNotification"`)
		agentNote    = []byte(`"type":".ams.ms.OnlineEventDistribution"`)
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	var seq int64
	for b.Loop() {
		agent.write(msg)
		consumer.expect(consumerNote)
		accept = append(strconv.AppendInt(append(accept[:0], acceptHead...), seq, 10), acceptTail...)
		read = append(strconv.AppendInt(append(read[:0], readHead...), seq, 10), readTail...)
		consumer.write(accept)
		consumer.write(read)
		consumer.expect(ok, consumerNote, ok, consumerNote)
		agent.expect(ok, agentNote, agentNote, agentNote)
		seq += 3
	}
	b.StopTimer()
	// The process's CPU, the peers' included (about a sixth of it, their
	// socket reads and writes: they neither parse nor encode).
	b.ReportMetric(float64(processCPU()-cpu)/float64(seq/3), "cpu-ns/op")
	if n := len(e.svc.DialogEvents(conv)); int64(n) != seq {
		b.Fatalf("dialog holds %d events, want %d", n, seq)
	}
}

// peer is a raw socket of a benchmark: it writes prepared frames and
// reads each frame into one reused buffer.
type peer struct {
	tb   testing.TB
	conn *websocket.Conn
	buf  bytes.Buffer
}

func dialPeer(tb testing.TB, e *env, path string, h http.Header) *peer {
	tb.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	conn, _, err := websocket.Dial(ctx, e.wsURL(path), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		tb.Fatalf("dial %s: %v", path, err)
	}
	tb.Cleanup(func() { _ = conn.CloseNow() })
	return &peer{tb: tb, conn: conn}
}

func (p *peer) write(frame []byte) {
	if err := p.conn.Write(context.Background(), websocket.MessageText, frame); err != nil {
		p.tb.Fatalf("write: %v", err)
	}
}

// next reads the next frame; its bytes are valid until the next read.
func (p *peer) next() []byte {
	_, r, err := p.conn.Reader(context.Background())
	if err != nil {
		p.tb.Fatalf("read: %v", err)
	}
	p.buf.Reset()
	if _, err := p.buf.ReadFrom(r); err != nil {
		p.tb.Fatalf("read: %v", err)
	}
	return p.buf.Bytes()
}

// frame reads and parses the next frame.
func (p *peer) frame() protocol.Frame {
	f, err := protocol.ParseFrame(p.next())
	if err != nil {
		p.tb.Fatal(err)
	}
	return f
}

// expect reads one frame per want, each of which must contain its want.
func (p *peer) expect(wants ...[]byte) {
	for _, want := range wants {
		if got := p.next(); !bytes.Contains(got, want) {
			p.tb.Fatalf("got %s, want a frame with %s", got, want)
		}
	}
}

func frameBytes(tb testing.TB, id, typ string, body any) []byte {
	tb.Helper()
	f, err := protocol.NewRequest(id, typ, body)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := protocol.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// splitAt splits b around the one occurrence of n.
func splitAt(tb testing.TB, b []byte, n int64) (head, tail []byte) {
	tb.Helper()
	head, tail, ok := bytes.Cut(b, strconv.AppendInt(nil, n, 10))
	if !ok {
		tb.Fatalf("%d not in %s", n, b)
	}
	return head, tail
}

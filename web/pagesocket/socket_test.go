package pagesocket_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// echoPage is a page whose socket answers each frame with the same bytes.
type echoPage struct{}

func (echoPage) Serve(outbox.Sink) {}
func (echoPage) Stop()             {}

// newEchoSite serves /ws: a page socket that sends every frame back.
func newEchoSite(t *testing.T) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	srv := pagesocket.New(pagesocket.Config{Logger: log})
	e := echo.New()
	e.GET("/ws", func(c echo.Context) error {
		sock, err := srv.Accept(c, 1<<20, nil)
		if sock == nil {
			return err
		}
		conn := sock.Conn
		sock.Serve(echoPage{}, func() {
			pagesocket.Read(conn, log, func(b []byte) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return conn.Write(ctx, websocket.MessageText, b)
			})
		}, nil)
		return nil
	})
	site := httptest.NewServer(e)
	t.Cleanup(func() {
		site.CloseClientConnections()
		site.Close()
		srv.Wait()
	})
	return site
}

// TestFramesAroundTheBuffers: frames smaller and larger than a page
// socket's buffers go both ways whole.
func TestFramesAroundTheBuffers(t *testing.T) {
	site := newEchoSite(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {site.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	for _, n := range []int{1, 1000, 1024, 2040, 2048, 5000, 64 << 10} {
		want := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		if err := conn.Write(ctx, websocket.MessageText, want); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
		_, got, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes sent, %d came back (equal: false)", n, len(got))
		}
	}
}

// TestFrameBehindTheUpgrade: frames the page sends in the same packet as
// its upgrade request (net/http has read them already when the socket is
// taken over), more than a page socket's read buffer of them, are not
// lost.
func TestFrameBehindTheUpgrade(t *testing.T) {
	site := newEchoSite(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(site.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /ws HTTP/1.1\r\nHost: " + strings.TrimPrefix(site.URL, "http://") + "\r\n" +
		"Origin: " + site.URL + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	sent := []string{"behind the upgrade", strings.Repeat("x", 2000)}
	out := []byte(req)
	for _, text := range sent {
		out = append(out, clientFrame(text)...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	for _, want := range sent {
		op, got, err := serverFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if op != 0x81 || string(got) != want {
			t.Errorf("the server sent back %#x, %d bytes %.20q…; want the %d bytes sent behind the upgrade", op, len(got), got, len(want))
		}
	}
}

// clientFrame is a final, masked text frame of a text under 64 KiB, as a
// browser sends it.
func clientFrame(text string) []byte {
	key := [4]byte{1, 2, 3, 4}
	b := []byte{0x81}
	if len(text) < 126 {
		b = append(b, 0x80|byte(len(text)))
	} else {
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(len(text)))
	}
	b = append(b, key[:]...)
	for i := range len(text) {
		b = append(b, text[i]^key[i%4])
	}
	return b
}

// serverFrame reads one unmasked frame of under 64 KiB: its first byte and
// payload.
func serverFrame(br *bufio.Reader) (byte, []byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return 0, nil, err
	}
	n := int(head[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return head[0], p, err
}

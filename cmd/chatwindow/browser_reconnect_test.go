package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// cutProxy is a TCP proxy in front of the chat window whose connections a
// test cuts at once, as a network or a node going away does: the page's
// socket ends without a close frame (1006) and reconnects.
type cutProxy struct {
	URL string
	ln  net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{URL: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	// The accept loop ends when the listener is closed (cleanup).
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			p.track(c, up)
			p.wg.Add(2)
			// Each copy ends when either side is closed (a cut, the
			// cleanup, or the peers).
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	// It ends with an error when the connection was cut: the other copy
	// ends with it.
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// spyReports records, in every document of a tab, the report frames the
// page sends: status and sequences.
const spyReports = `(() => {
	window.__reports = [];
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (data) {
		try {
			const f = JSON.parse(data);
			if (f.type === "report") for (const i of f.items) window.__reports.push(f.status + " " + i.seq);
		} catch (e) {}
		return send.call(this, data);
	};
})()`

// TestBrowserReportsAfterReconnect: when the page's socket is cut and
// comes back (perhaps to another node, which may not have published what
// the old one was told), the page reports again what it holds, delivered
// and seen; the service still gets each receipt once.
func TestBrowserReportsAfterReconnect(t *testing.T) {
	proxy := newCutProxy(t, env.chatURL)
	p := newCustomer(t)
	if _, err := chromedp.Call(p.bounded(), cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: spyReports}); err != nil {
		t.Fatal(err)
	}
	p.load(proxy.URL + "/")
	p.focusEmulation()
	p.typeAndSend("Hello through a proxy")
	p.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	env.agent.acceptRing(t, convID)

	seq := env.agent.say(t, convID, "Seen before the cut.")
	env.agent.waitReceipt(t, convID, read, seq)
	reports := func(status string) int {
		return eval[int](p, `window.__reports.filter(r => r === `+jsString(fmt.Sprint(status, " ", seq))+`).length`)
	}
	if d, s := reports("delivered"), reports("seen"); d != 1 || s != 1 {
		t.Fatalf("before the cut the page reported %d delivered and %d seen, want 1 each", d, s)
	}

	proxy.cut()
	p.waitJS("the socket back", `(() => {
		const c = document.querySelector('[data-testid="connection"]');
		return !!c && c.dataset.state === "open";
	})()`)
	p.waitJS("delivered and seen reported anew", `(() => {
		const n = s => window.__reports.filter(r => r === s + " `+fmt.Sprint(seq)+`").length;
		return n("delivered") >= 2 && n("seen") >= 2;
	})()`)
	time.Sleep(quiet) // room for a repeated receipt to show up
	history := env.agent.history(t, convID)
	if a, r := env.agent.receipts(history, convID, accept)[seq], env.agent.receipts(history, convID, read)[seq]; a != 1 || r != 1 {
		t.Errorf("%d ACCEPTs and %d READs of %d in the dialog's history, want one each", a, r, seq)
	}
}

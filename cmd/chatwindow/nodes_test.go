package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
)

// TestNodes (docs/deployment.md, "Many nodes"): two chat window nodes,
// started through run() with the same session keys, share one `chatwindow
// simulate` behind a plain round-robin reverse proxy, with no shared store
// and no stickiness. One customer has 4 tabs spread over both nodes, another
// 2; the agents write while the customers write too, move focus between
// their tabs, hide them and drop their sockets (which reconnect to the
// other node). Then the service's own record (the dialog's history, read by
// the agent) must show what TestFaults demands: every agent message shown
// once in every tab in order, exactly one ACCEPT and one READ each, ACCEPT
// not after READ, every customer message stored once.
//
// Each node opens its own upstream for the tabs it serves and learns what
// the other sent only from the echo; only one tab of a browser reports (the
// holder of chat.js's delivery lock, played by pageclient.Browser), so two nodes
// never publish the same receipt. CHATWINDOW_NODES_NO_LOCK=1 plays a
// browser without navigator.locks (every tab reports): the test then finds
// receipts published twice.
func TestNodes(t *testing.T) {
	const (
		agentMessages = 30                     // each agent writes this many
		agentEvery    = 200 * time.Millisecond // this often
		settleTime    = 30 * time.Second       // bound on the last receipts
	)
	locks := os.Getenv("CHATWINDOW_NODES_NO_LOCK") == ""

	password := rand.Text()[:16]
	sim, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "12345678",
		"-agent", "agent0:"+password, "-agent", "agent1:"+password)
	base := sim.wait(t, listening, 15*time.Second)

	// The nodes: the same keys, so either reads the cookie the other wrote.
	hashKey, blockKey := make([]byte, 64), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	keys := base64.StdEncoding.EncodeToString(hashKey) + "," + base64.StdEncoding.EncodeToString(blockKey)
	logs := &lockedBuffer{}
	var nodes []*url.URL
	for range 2 {
		win, _ := startRunLog(t, map[string]string{
			"LP_ACCOUNT": "12345678", "LP_CSDS": base, "CHATWINDOW_ADDR": "127.0.0.1:0",
			"CHATWINDOW_SESSION_KEYS": keys, "CHATWINDOW_LOG_LEVEL": "info",
		}, logs)
		u, err := url.Parse(win.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, u)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' log (last lines):\n%s", logs.tail(80))
		}
	})
	lb := newRoundRobin(t, nodes)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// The customers, their tabs opened one after the other: a page load and
	// a socket each, so with the sockets taken round-robin their tabs
	// alternate between the nodes.
	tabsOf := []int{4, 2}
	ss := make([]*faultSession, len(tabsOf))
	browsers := make([]*pageclient.Browser, len(tabsOf))
	for i, n := range tabsOf {
		s := &faultSession{n: i, sent: map[string]bool{}, unsure: map[string]bool{}}
		ss[i] = s
		browsers[i] = pageclient.NewBrowser(nil, pageclient.BrowserOptions{Locks: locks, Dwell: pageclient.Dwell})
		s.agent = startFaultAgent(t, ctx, &wg, base, fmt.Sprintf("agent%d", i), password)
		for range n {
			tab, err := browsers[i].Open(bounded(t), lb.URL)
			if err != nil {
				t.Fatal(err)
			}
			s.tabs = append(s.tabs, tab)
			t.Cleanup(tab.Close)
		}
		for _, tab := range s.tabs {
			waitTab(t, tab, "the upstream open", func(v pageclient.View) bool { return v.Connection == "open" })
		}
		text := fmt.Sprintf("s%d hello", i)
		if err := s.tabs[0].Send(text); err != nil {
			t.Fatal(err)
		}
		s.sent[text] = true
		v := waitTab(t, s.tabs[0], "the first message sent", func(v pageclient.View) bool {
			return len(v.Messages) == 1 && v.Messages[0].HasSeq
		})
		s.conv = v.Messages[0].DialogID
		s.agent.conv.Store(&s.conv)
		s.agent.acceptRing(t, s.conv)
	}
	if a, b := lb.sockets(0), lb.sockets(1); a != 3 || b != 3 {
		t.Fatalf("the proxy sent %d and %d sockets to the nodes, want 3 and 3", a, b)
	}

	var writing atomic.Bool
	writing.Store(true)
	var customers sync.WaitGroup
	for i, s := range ss {
		wg.Add(1)
		customers.Add(1)
		// The agent's writer (and reader of the customer's messages) ends
		// with ctx.
		go func() {
			defer wg.Done()
			s.agent.write(ctx, s.conv, &writing, agentEvery)
		}()
		// The customer ends when writing stops (or ctx ends).
		go func() {
			defer customers.Done()
			nodesCustomer(ctx, s, browsers[i], &writing)
		}()
	}
	deadline := time.Now().Add(time.Minute)
	for done := false; !done; {
		done = true
		for _, s := range ss {
			if len(s.agent.published()) < agentMessages {
				done = false
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the agents did not write their messages within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	writing.Store(false)
	customers.Wait()

	// Settle: every tab visible, one focused: every message is seen.
	for _, s := range ss {
		s.mu.Lock()
		for _, tab := range s.tabs {
			tab.SetVisible(true)
		}
		s.tabs[0].Focus()
		s.mu.Unlock()
	}
	problems := settled(t, ss, settleTime)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		for i, s := range ss {
			for j, tab := range s.tabs {
				v := tab.View()
				t.Logf("session %d tab %d: socket %s, upstream %s, holder %v, reporting %v, %+v",
					i, j, v.Socket, v.Connection, browsers[i].Holder() == tab, tab.Reporting(), tab.Stats())
			}
		}
	}

	var agentMsgs, customerMsgs, shown, drops, reconnects, grants, steals int
	for i, s := range ss {
		agentMsgs += len(s.agent.published())
		customerMsgs += len(s.sent)
		drops += s.drops
		for _, tab := range s.tabs {
			shown += len(tab.Messages())
			reconnects += tab.Stats().Reconnect
		}
		st := browsers[i].Stats()
		grants += st.Grants
		steals += st.Steals
	}
	t.Logf("nodes: 2 behind a round-robin proxy (sockets %d and %d); locks %v; %d customers with %v tabs; %d socket drops (%d reconnects)",
		lb.sockets(0), lb.sockets(1), locks, len(ss), tabsOf, drops, reconnects)
	t.Logf("checked: %d agent messages (%d bubbles in the tabs), %d customer messages: %d problems; the delivery lock changed hands %d times (%d taken by a focused tab)",
		agentMsgs, shown, customerMsgs, len(problems), grants, steals)
}

// nodesCustomer plays a customer's browser until writing stops: every now
// and then a message from one tab, focus moving to another tab (brought to
// the front), the browser losing focus, a tab hidden, or a socket dropped.
func nodesCustomer(ctx context.Context, s *faultSession, b *pageclient.Browser, writing *atomic.Bool) {
	for i := 1; writing.Load(); i++ {
		select {
		case <-time.After(time.Duration(100+mrand.IntN(300)) * time.Millisecond):
		case <-ctx.Done():
			return
		}
		tab := s.anyTab()
		switch r := mrand.IntN(20); {
		case r < 9:
			s.say(tab, fmt.Sprintf("s%d customer %d", s.n, i))
		case r < 15:
			tab.SetVisible(true)
			tab.Focus()
		case r < 17:
			b.Blur()
		case r < 19:
			tab.SetVisible(false)
		default:
			tab.Drop()
			s.mu.Lock()
			s.drops++
			s.mu.Unlock()
		}
	}
}

// roundRobin is a plain reverse proxy in front of window nodes, without
// stickiness: each page request goes to the next node, and so does each
// socket (counted apart, so that a customer's tabs, a page load and a
// socket each, spread over the nodes). httputil.ReverseProxy passes
// WebSocket upgrades through.
type roundRobin struct {
	URL     string
	pages   atomic.Uint64
	socks   atomic.Uint64
	perNode []atomic.Int64 // sockets sent to each node
}

func newRoundRobin(t *testing.T, nodes []*url.URL) *roundRobin {
	t.Helper()
	rr := &roundRobin{perNode: make([]atomic.Int64, len(nodes))}
	// Every connection the proxy dials to a node, and every one it
	// hijacks for a socket, is closed with the proxy: a node does not
	// close a page socket whose page went away (see the report), and the
	// proxy, half-closing towards it, would copy from it for ever.
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn) {
		mu.Lock()
		conns[c] = true
		mu.Unlock()
	}
	var d net.Dialer
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			var n int
			if r.In.Header.Get("Upgrade") != "" {
				n = int((rr.socks.Add(1) - 1) % uint64(len(nodes)))
				rr.perNode[n].Add(1)
			} else {
				n = int((rr.pages.Add(1) - 1) % uint64(len(nodes)))
			}
			r.SetURL(nodes[n])
			// The node checks a socket's Origin against the host it was
			// asked for: the proxy's (nginx: proxy_set_header Host $host).
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err == nil {
					track(c)
				}
				return c, err
			},
		},
		// Tabs leaving and nodes stopping cut proxied sockets: not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateHijacked {
			track(c)
		}
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	rr.URL = srv.URL
	return rr
}

// sockets returns how many sockets went to node i.
func (rr *roundRobin) sockets(i int) int64 { return rr.perNode[i].Load() }

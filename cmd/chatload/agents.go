package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// loadAgent is one agent of the service, played with the project's own
// agent client (as the tests do): ONLINE, subscribed to routing tasks, it
// accepts the rings of its share of the conversations and publishes to
// them at its share of the run's rate. It receives the customers'
// AcceptStatusEvents as a participant: that is where receipts are timed.
type loadAgent struct {
	r      *loadRun
	k, of  int
	a      *messaging.Agent
	hc     *http.Client
	rings  chan string
	jobs   chan job
	behind atomic.Int64 // publishes the pacer could not hand to a worker in time

	mu     sync.Mutex
	convs  []string // dialogs this agent accepted, in order
	joined map[string]bool
}

// job is one message to publish.
type job struct {
	dialog string
	sess   int
}

// owner is the agent (of n) that takes a conversation: all are rung, one
// accepts, so conversations spread evenly.
func owner(conv string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(conv))
	return int(h.Sum32() % uint32(n))
}

// startAgent logs agent k in and keeps it connected until ctx ends; its
// goroutines are counted in wg. It returns once the agent's socket is open.
func startAgent(ctx context.Context, wg *sync.WaitGroup, r *loadRun, log *slog.Logger, service, account, name, password string, k, of, workers int) (*loadAgent, error) {
	hc := &http.Client{Timeout: 15 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ep, err := messaging.Discover(dctx, hc, service, account, messaging.Overrides{})
	if err != nil {
		return nil, fmt.Errorf("agent %s: discover: %w", name, err)
	}
	a, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: ep, Username: name, Password: password, HTTPClient: hc,
		// A service assigning thousands of conversations answers late.
		RequestTimeout: 30 * time.Second,
		SessionOptions: messaging.SessionOptions{Logger: log.With("agent", name), UpdateBuffer: 4096},
	})
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", name, err)
	}
	if err := a.SetAgentState(dctx, protocol.AgentOnline); err != nil {
		return nil, fmt.Errorf("agent %s: state: %w", name, err)
	}
	if err := a.SubscribeRoutingTasks(dctx); err != nil {
		return nil, fmt.Errorf("agent %s: routing tasks: %w", name, err)
	}
	la := &loadAgent{r: r, k: k, of: of, a: a, hc: hc, rings: make(chan string, 1<<16), jobs: make(chan job, 4096), joined: map[string]bool{}}
	opened := make(chan struct{})
	wg.Add(3 + ringTakers + workers)
	// Run keeps the agent connected until ctx ends.
	go func() {
		defer wg.Done()
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			r.errs.add("agent: ended", "%s: %v", name, err)
		}
		hc.CloseIdleConnections()
	}()
	// The reader ends when Run closes Updates.
	go func() {
		defer wg.Done()
		la.readUpdates(opened)
	}()
	for range ringTakers {
		// A ring taker ends with ctx.
		go func() {
			defer wg.Done()
			la.takeRings(ctx)
		}()
	}
	// The pacer ends with ctx.
	go func() {
		defer wg.Done()
		la.pace(ctx)
	}()
	for range workers {
		// A publisher ends with ctx.
		go func() {
			defer wg.Done()
			la.publish(ctx)
		}()
	}
	select {
	case <-opened:
		return la, nil
	case <-dctx.Done():
		return nil, fmt.Errorf("agent %s: never connected", name)
	}
}

func (la *loadAgent) readUpdates(opened chan struct{}) {
	var once sync.Once
	for u := range la.a.Updates() {
		switch u := u.(type) {
		case messaging.StateChange:
			switch u.State {
			case messaging.StateOpen:
				once.Do(func() { close(opened) })
			case messaging.StateReconnecting:
				la.r.errs.add("agent: socket lost", "agent %d: %v", la.k, u.Err)
			}
		case messaging.RoutingUpdate:
			res := u.Change.Result
			if owner(res.ConversationID, la.of) != la.k {
				continue
			}
			for _, ring := range res.RingsDetails {
				if ring.RingState == protocol.RingWaiting {
					select {
					case la.rings <- ring.RingID + " " + res.ConversationID:
					default:
						la.r.errs.add("agent: rings overflow", "agent %d", la.k)
					}
				}
			}
		case messaging.EventUpdate:
			ev := u.Event
			if ev.Event.Type != protocol.EventAcceptStatus || ev.OriginatorMetadata == nil || ev.OriginatorMetadata.Role != protocol.RoleConsumer {
				continue
			}
			at := la.r.now()
			s := la.r.registry.get(ev.DialogID)
			if s == nil {
				la.r.errs.add("agent: receipt of an unknown dialog", "dialog %s", ev.DialogID)
				continue
			}
			s.receipt(ev.Event.Status, ev.Event.SequenceList, at, la.r.cur())
		}
	}
}

// ringTakers accept an agent's rings concurrently: a ramp of hundreds of
// conversations a second would wait on one accept's round trip at a time.
const ringTakers = 8

// takeRings accepts the rings of this agent's share.
func (la *loadAgent) takeRings(ctx context.Context) {
	for {
		var ring string
		select {
		case ring = <-la.rings:
		case <-ctx.Done():
			return
		}
		id, conv, _ := cut(ring)
		// The request's own timeout (10 s) bounds it: a service busy
		// assigning thousands of conversations answers late.
		err := la.a.AcceptRing(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				la.r.errs.add("agent: accept ring", "agent %d, conversation %s: %v", la.k, conv, err)
			}
			continue
		}
		la.mu.Lock()
		if !la.joined[conv] {
			la.joined[conv] = true
			la.convs = append(la.convs, conv)
			la.r.joined.Add(1)
		}
		la.mu.Unlock()
	}
}

func cut(s string) (a, b string, ok bool) {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// pace hands messages to the publishers at this agent's share of the
// run's rate: every conversation of the run gets rate/conversations
// messages a second, round robin. Credit accrues with time at the current
// rate (which changes as conversations are accepted); a pacer that cannot
// hand over (every worker busy, the queue full) or was not scheduled
// catches up, but drops the credit beyond a second's worth (at least 20
// messages): the published rate then shows the agents' (or the
// service's) limit.
func (la *loadAgent) pace(ctx context.Context) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var (
		last   = time.Now()
		credit float64
		next   int
	)
	for {
		var now time.Time
		select {
		case now = <-tick.C:
		case <-ctx.Done():
			return
		}
		la.mu.Lock()
		convs := la.convs
		la.mu.Unlock()
		rate := 0.0
		if total := la.r.joined.Load(); total > 0 {
			rate = la.r.getRate() * float64(len(convs)) / float64(total)
		}
		dt := now.Sub(last).Seconds()
		last = now
		if rate <= 0 || len(convs) == 0 {
			credit = 0
			continue
		}
		credit += rate * dt
		if limit := max(rate, 20); credit > limit {
			skip := float64(int(credit - limit))
			credit -= skip
			la.behind.Add(int64(skip))
		}
	hand:
		for ; credit >= 1; credit-- {
			next = (next + 1) % len(convs)
			s := la.r.registry.get(convs[next])
			if s == nil {
				continue // its tab has not shown it yet
			}
			select {
			case la.jobs <- job{dialog: convs[next], sess: s.n}:
			default:
				break hand // full: the credit waits for the next tick
			}
		}
	}
}

// publish sends messages handed over by the pacer.
func (la *loadAgent) publish(ctx context.Context) {
	for {
		var j job
		select {
		case j = <-la.jobs:
		case <-ctx.Done():
			return
		}
		id := la.r.ledger.add(j.sess)
		at := la.r.now()
		ev := protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: loadText(id, at)}
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := la.a.Publish(pctx, j.dialog, ev)
		cancel()
		ph := la.r.cur()
		ph.publish.Record(time.Duration(la.r.now() - at))
		if err != nil {
			if ctx.Err() == nil {
				ph.pubFailed.Add(1)
				la.r.errs.add("agent: publish", "agent %d, dialog %s: %v", la.k, j.dialog, err)
			}
			continue
		}
		la.r.ledger.get(id).ok.Store(true)
		ph.published.Add(1)
		la.r.published.Add(1)
	}
}

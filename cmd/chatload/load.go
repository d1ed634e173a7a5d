package main

import (
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a run; figures are kept per phase.
const (
	phaseRamp    = iota // sessions opened and held idle
	phaseSearch         // the agents' rate stepped up to find the most sustained
	phaseMeasure        // half that rate for -duration: the latencies
	phaseDrain          // publishing stopped; what is in flight arrives
	nPhases
)

var phaseNames = [nPhases]string{"ramp", "search", "measure", "drain"}

// loadRun is one run's shared state: the tabs, the agents and the
// figures they record. Tabs and agents run concurrently; everything here
// is safe for that.
type loadRun struct {
	log   *slog.Logger
	start time.Time // the run's clock: latencies are monotonic offsets from it

	ledger   ledger
	registry registry
	errs     errorCounts

	phase atomic.Int32
	stats [nPhases]*phaseStats
	// stepRelay, when set, also records relay latencies: the search's
	// current step.
	stepRelay atomic.Pointer[hist]
	// floorNode is the floor's node (-floor), -1 for none: its tabs'
	// latencies are kept apart from the windows'.
	floorNode int

	// rate is the agents' total publishing rate (float64 bits), in
	// messages per second over every conversation.
	rate atomic.Uint64
	// Totals across phases.
	published atomic.Int64 // agent messages the service accepted
	received  atomic.Int64 // agent messages first inserted by their tab
	joined    atomic.Int64 // conversations an agent accepted
}

// newLoadRun is a run over windows window processes.
func newLoadRun(log *slog.Logger, windows int) *loadRun {
	r := &loadRun{log: log, start: time.Now(), floorNode: -1}
	r.errs.samples = map[string][]string{}
	r.errs.counts = map[string]int64{}
	r.registry.m = map[string]*session{}
	for i := range r.stats {
		r.stats[i] = newPhaseStats(windows)
	}
	return r
}

// now is the run's clock in ns.
func (r *loadRun) now() int64 { return int64(time.Since(r.start)) }

func (r *loadRun) cur() *phaseStats { return r.stats[r.phase.Load()] }

func (r *loadRun) setRate(perSecond float64) { r.rate.Store(math.Float64bits(perSecond)) }
func (r *loadRun) getRate() float64          { return math.Float64frombits(r.rate.Load()) }

// phaseStats are the figures of one phase.
type phaseStats struct {
	relay   *hist // agent publish → the tab inserts the bubble (the windows' tabs)
	floor   *hist // the same, the floor's tabs (-floor)
	receipt *hist // the tab's report sent → the agent receives the receipt (ACCEPT and READ)
	accept  *hist
	read    *hist
	publish *hist // an agent's publish request → the service's answer

	published   atomic.Int64 // publishes answered with success
	pubFailed   atomic.Int64
	received    atomic.Int64   // first insertions in a tab
	receivedBy  []atomic.Int64 // received, by the tab's window
	accepts     atomic.Int64   // sequences the agents saw ACCEPTed
	reads       atomic.Int64
	frames      atomic.Int64 // AcceptStatusEvents of customers the agents saw
	framesOver1 atomic.Int64 // receipt frames that made a dialog's 100 ms window hold more than one
	maxFrames   atomic.Int64 // most receipt frames of one dialog in any 100 ms
	reports     atomic.Int64 // report frames the tabs sent
	reportItems atomic.Int64
}

func newPhaseStats(windows int) *phaseStats {
	return &phaseStats{relay: newHist(), floor: newHist(), receipt: newHist(), accept: newHist(), read: newHist(), publish: newHist(), receivedBy: make([]atomic.Int64, windows)}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// ledger remembers every agent message of the run by its number: the tab
// session it was published for, whether the service accepted it, and how
// often a tab inserted it. Lost, misdirected and duplicated messages are
// found with it.
type ledger struct {
	mu     sync.Mutex
	chunks []*[ledgerChunk]ledgerEntry
	next   uint64
}

const ledgerChunk = 1 << 16

type ledgerEntry struct {
	sess int32
	ok   atomic.Bool  // the publish was answered with success
	recv atomic.Int32 // insertions by a tab (reloads of the window excluded)
}

// add registers a message for session sess and returns its number (≥ 1).
func (l *ledger) add(sess int) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	id := l.next
	c := int(id / ledgerChunk)
	for c >= len(l.chunks) {
		l.chunks = append(l.chunks, new([ledgerChunk]ledgerEntry))
	}
	l.chunks[c][id%ledgerChunk].sess = int32(sess)
	return id
}

// get returns message id's entry, nil for a number never given.
func (l *ledger) get(id uint64) *ledgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == 0 || id > l.next {
		return nil
	}
	return &l.chunks[id/ledgerChunk][id%ledgerChunk]
}

// tally counts, over every message, those accepted but never inserted by
// their tab (lost) and those inserted more than once.
func (l *ledger) tally() (messages, lost, duplicated int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := uint64(1); id <= l.next; id++ {
		e := &l.chunks[id/ledgerChunk][id%ledgerChunk]
		messages++
		switch r := e.recv.Load(); {
		case r == 0 && e.ok.Load():
			lost++
		case r > 1:
			duplicated++
		}
	}
	return messages, lost, duplicated
}

// registry finds a tab session by its conversation's dialog id.
type registry struct {
	mu sync.RWMutex
	m  map[string]*session
}

func (g *registry) put(dialog string, s *session) (prev *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	prev = g.m[dialog]
	if prev == nil {
		g.m[dialog] = s
	}
	return prev
}

func (g *registry) get(dialog string) *session {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.m[dialog]
}

func (g *registry) len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.m)
}

// errorCounts counts errors by kind and keeps the first few of each.
type errorCounts struct {
	mu      sync.Mutex
	counts  map[string]int64
	samples map[string][]string
	total   atomic.Int64
}

const errorSamples = 3

func (e *errorCounts) add(kind string, format string, args ...any) {
	e.addN(kind, 1, format, args...)
}

// addN counts n errors of a kind at once, with one sample.
func (e *errorCounts) addN(kind string, n int64, format string, args ...any) {
	e.total.Add(n)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[kind] += n
	if len(e.samples[kind]) < errorSamples {
		e.samples[kind] = append(e.samples[kind], fmt.Sprintf(format, args...))
	}
}

// bySide splits the errors so far into those of the window's side (the
// tabs, the window's own counts, lost or duplicated messages, receipts)
// and those of the agents' side (the agent sockets and the service:
// kinds "agent: …").
func (e *errorCounts) bySide() (window, agents int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, n := range e.counts {
		if strings.HasPrefix(k, "agent: ") {
			agents += n
		} else {
			window += n
		}
	}
	return window, agents
}

// errorKind is one kind of error with its count and first occurrences.
type errorKind struct {
	Kind    string   `json:"kind"`
	Count   int64    `json:"count"`
	Samples []string `json:"samples"`
}

func (e *errorCounts) list() []errorKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]errorKind, 0, len(e.counts))
	for k, n := range e.counts {
		out = append(out, errorKind{Kind: k, Count: n, Samples: e.samples[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is the run itself: processes, agents, the phases.
func load(ctx context.Context, cfg config, log *slog.Logger, res *result) error {
	res.NoFile = setOpenFileLimit(cfg, log)
	p, err := startProcs(ctx, &cfg, log, res)
	if err != nil {
		return err
	}
	defer p.stop()
	res.Config["window"] = p.windowURLs()
	res.Config["service"] = p.serviceURL
	d := newDriver(ctx, cfg, log, res, p)
	defer d.close()

	d.baseline()
	if err := d.startAgents(); err != nil {
		return err
	}

	// Phase 1: the ramp, then the idle hold.
	if err := d.ramp(); err != nil {
		return err
	}
	if err := d.awaitConversations(); err != nil {
		return err
	}
	if err := d.hold(); err != nil {
		return err
	}
	if d.held == 0 {
		res.addNote("no session was held: nothing to measure")
		return nil
	}

	// Phase 2: the most sustained rate.
	rate, err := d.measureRate()
	if err != nil {
		return err
	}

	// Phase 3: the measure.
	if err := d.measure(rate); err != nil {
		return err
	}

	// Drain: what was published arrives, receipts come back.
	if err := d.awaitDelivery(); err != nil {
		return err
	}
	d.tally()
	return nil
}

// driver takes one run through its phases. It owns the agents and the
// tabs it starts, which live until close (not until ctx ends: the run's
// last figures are taken with them still up), and keeps the snapshots the
// figures are computed from.
type driver struct {
	ctx context.Context
	cfg config
	log *slog.Logger
	res *result
	p   procs
	r   *loadRun
	m   *meter
	mtr *http.Transport // the meter's

	agentCtx   context.Context // the agents' goroutines end with it (close)
	stopAgents context.CancelFunc
	agentsWG   sync.WaitGroup
	agents     []*loadAgent

	sessCtx      context.Context // the tabs' goroutines end with it (close)
	stopSessions context.CancelFunc
	sessWG       sync.WaitGroup
	sessions     []*session
	ended        atomic.Int64 // sessions whose run ended (failed, or closed)
	captured     [][]byte     // the first session's first frames (-capture)

	rampStart time.Time
	progress  *time.Ticker // from the ramp on: when to log progress
	held      int          // sessions held after the hold

	before       snapshot // before any session
	measureStart snapshot
	measureEnd   snapshot
	after        snapshot // once delivery is over
}

func newDriver(ctx context.Context, cfg config, log *slog.Logger, res *result, p procs) *driver {
	// The meter's connections to the windows are opened before the ramp
	// and kept (no idle timeout): a window at its open-file limit cannot
	// accept a new one, and its figures are wanted most then.
	mtr := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 0, DisableCompression: true}
	mc := &http.Client{Transport: mtr, Timeout: 30 * time.Second}
	r := newLoadRun(log, len(p.windows))
	if nw := p.windowNodes(); nw < len(p.windows) {
		r.floorNode = nw
	}
	d := &driver{
		ctx: ctx, cfg: cfg, log: log, res: res, p: p, r: r, mtr: mtr,
		m: &meter{ctx: ctx, hc: mc, long: &http.Client{Transport: mtr}, r: r, p: p, log: log},
	}
	// Everything below lives until the run ends: agents, tabs.
	d.agentCtx, d.stopAgents = context.WithCancel(context.Background())
	d.sessCtx, d.stopSessions = context.WithCancel(context.Background())
	return d
}

// close writes the capture, closes the tabs, then stops the agents; it
// returns once their goroutines have ended.
func (d *driver) close() {
	if d.progress != nil {
		d.progress.Stop()
	}
	if d.cfg.capture != "" && len(d.sessions) > 0 {
		if err := writeCapture(d.cfg.capture, d.sessions[0], &d.captured); err != nil {
			d.log.Warn("capture", "error", err)
		}
	}
	for _, s := range d.sessions {
		s.close()
	}
	d.stopSessions()
	d.sessWG.Wait()
	d.stopAgents()
	d.agentsWG.Wait()
	d.mtr.CloseIdleConnections()
}

// baseline measures the processes before any session: what the sessions
// cost is the difference from it.
func (d *driver) baseline() {
	d.m.gc("")
	d.before = d.m.snap("before")
	d.res.Window.GoVersion = d.before.goVersion()
}

// startAgents starts the cfg.agents agents on the service.
func (d *driver) startAgents() error {
	cfg := d.cfg
	d.agents = make([]*loadAgent, cfg.agents)
	for k := range d.agents {
		a, err := startAgent(d.agentCtx, &d.agentsWG, d.r, d.log.With("component", "agent"), d.p.serviceURL, cfg.account,
			fmt.Sprintf("%s%d", cfg.agentPrefix, k+1), cfg.agentPassword, k, cfg.agents, cfg.workers)
		if err != nil {
			return err
		}
		d.agents[k] = a
	}
	return nil
}

// ramp opens cfg.sessions tabs, cfg.ramp a second.
func (d *driver) ramp() error {
	cfg, r, log := d.cfg, d.r, d.log
	r.phase.Store(phaseRamp)
	log.Info("ramp", "sessions", cfg.sessions, "per_second", cfg.ramp)
	d.rampStart = time.Now()
	visibleN := int(math.Round(cfg.visible * float64(cfg.sessions)))
	d.progress = time.NewTicker(5 * time.Second)
	for i := 0; i < cfg.sessions; i++ {
		select {
		case <-d.progress.C:
			log.Info("ramping", "started", i, "conversations", r.registry.len(), "accepted", r.joined.Load(), "ended", int(d.ended.Load()), "errors", r.errs.total.Load())
		default:
		}
		if wait := time.Until(d.rampStart.Add(time.Duration(float64(i) / cfg.ramp * float64(time.Second)))); wait > 0 {
			select {
			case <-time.After(wait):
			case <-d.ctx.Done():
				return d.ctx.Err()
			}
		}
		// Visible tabs are spread evenly over the sessions, and the
		// sessions over the windows, round robin.
		visible := visibleN > 0 && (i*visibleN)%cfg.sessions < visibleN
		win := i % len(d.p.windows)
		s := newSession(r, i, win, d.p.windows[win].base, visible, cfg.dwell, cfg.spread)
		if i == 0 && cfg.capture != "" {
			s.capture = &d.captured
		}
		d.sessions = append(d.sessions, s)
		d.sessWG.Add(1)
		// The tab lives until the run closes it (sessCtx).
		go func() {
			defer d.sessWG.Done()
			s.run(d.sessCtx)
			d.ended.Add(1)
		}()
	}
	d.res.Ramp.Seconds = time.Since(d.rampStart).Seconds()
	return nil
}

// awaitConversations waits until every tab's conversation is open and
// accepted by an agent (or the tab has ended), giving up after
// cfg.readyTimeout without progress.
func (d *driver) awaitConversations() error {
	r, log := d.r, d.log
	// Wait while it progresses: at 10,000 conversations the service
	// takes a while to assign them all.
	deadline := time.Now().Add(d.cfg.readyTimeout)
	lastConvs, lastJoined := -1, int64(-1)
	for time.Now().Before(deadline) {
		if r.registry.len()+int(d.ended.Load()) >= d.cfg.sessions && int(r.joined.Load()) >= r.registry.len() {
			break
		}
		if c, j := r.registry.len(), r.joined.Load(); c != lastConvs || j != lastJoined {
			lastConvs, lastJoined = c, j
			deadline = time.Now().Add(d.cfg.readyTimeout)
		}
		select {
		case <-d.progress.C:
			log.Info("waiting for conversations", "conversations", r.registry.len(), "accepted", r.joined.Load(), "ended", int(d.ended.Load()), "errors", r.errs.total.Load())
		default:
		}
		if err := sleep(d.ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	d.res.Ramp.Ready = time.Since(d.rampStart).Seconds()
	log.Info("sessions opened", "conversations", r.registry.len(), "accepted", r.joined.Load(), "failed", int(d.ended.Load()), "errors", r.errs.total.Load())
	return nil
}

// hold holds the sessions idle for cfg.hold and measures what they cost:
// the CPU over the hold, then, after a forced GC, the memory and the
// files of each process.
func (d *driver) hold() error {
	cfg, r, res := d.cfg, d.r, d.res
	cpu0, t0 := d.m.cpu(), time.Now()
	if err := sleep(d.ctx, cfg.hold); err != nil {
		return err
	}
	cpu1, t1 := d.m.cpu(), time.Now()
	// The windows' figures leave the floor (-floor: the last node) out.
	nw := d.p.windowNodes()
	w0, w1 := cpu0, cpu1
	w0.windows, w1.windows = cpu0.windows[:nw], cpu1.windows[:nw]
	res.Ramp.IdleCores = idleCores(w0, w1, t1.Sub(t0).Seconds())
	d.m.gc(cfg.heapProfile)
	idle := d.m.snap("idle")
	held, sentTo, heldBy := d.countHeld()
	d.held = held
	res.Ramp.Sessions, res.Ramp.Held = cfg.sessions, held
	res.Ramp.Errors, res.Ramp.AgentErrors = r.errs.bySide()
	res.Ramp.Conversations, res.Ramp.Accepted = r.registry.len(), int(r.joined.Load())
	heldByWindows := 0
	for _, n := range heldBy[:nw] {
		heldByWindows += n
	}
	res.Ramp.perSession(d.before, idle, nw, heldByWindows)
	res.Windows = windowResults(d.p.windows, sentTo, heldBy, d.before, idle, cpu0, cpu1, t1.Sub(t0).Seconds())
	attrs := []any{"sessions", held, "of", cfg.sessions}
	for i, w := range idle.windows {
		attrs = append(attrs, w.name, fmt.Sprintf("%d held, %d MiB, %d fds", heldBy[i], w.proc.RSS>>20, w.proc.FDs))
	}
	d.log.Info("held", attrs...)
	fdNotes(res, idle)
	return nil
}

// countHeld counts the sessions held, in all and by each window, and
// those sent to each window; a tab neither failed nor held is an error.
func (d *driver) countHeld() (held int, sentTo, heldBy []int) {
	sentTo, heldBy = make([]int, len(d.p.windows)), make([]int, len(d.p.windows))
	for _, s := range d.sessions {
		sentTo[s.win]++
		if s.held() {
			held++
			heldBy[s.win]++
		} else if state := s.state(); state != "" {
			// Not failed, not held: e.g. a tab the window took whose
			// upstream could not connect (the banner says so).
			d.r.errs.add("tab: not held after the hold", "session %d: %s", s.n, state)
		}
	}
	return held, sentTo, heldBy
}

// measureRate is the measure phase's rate: -rate, else half the most
// sustained, which the search finds; the search's overload is over when
// it returns.
func (d *driver) measureRate() (float64, error) {
	cfg, r, res := d.cfg, d.r, d.res
	if cfg.rate > 0 {
		return cfg.rate, nil
	}
	r.phase.Store(phaseSearch)
	best := search(d.ctx, cfg, r, d.log, res)
	if d.ctx.Err() != nil {
		return 0, d.ctx.Err()
	}
	res.Search.MaxSustained = best
	rate := best / 2
	if best == 0 {
		rate = cfg.startRate / 2
		res.addNote("no step of the search was sustained (not even %.0f/s): measuring at %.0f/s", cfg.startRate, rate)
	}
	// The overload of the last step must be over before measuring:
	// messages shown, receipts back.
	drain(d.ctx, r, 10*time.Second)
	if !settle(d.ctx, d.sessions, 15*time.Second) {
		res.addNote("receipts of the search were still missing when the measure began")
	}
	return rate, nil
}

// measure has the agents publish at rate for cfg.duration and records
// what it took: latencies, receipt frames, CPU (res.Measure).
func (d *driver) measure(rate float64) error {
	cfg, r, res := d.cfg, d.r, d.res
	d.log.Info("measure", "rate", rate, "duration", cfg.duration)
	r.phase.Store(phaseMeasure)
	ph := r.stats[phaseMeasure]
	errs0 := r.errs.total.Load()
	d.measureStart = d.m.snap("measure start")
	t0 := time.Now()
	r.setRate(rate)
	profiled := d.m.cpuProfile(cfg.cpuProfile, cfg.duration)
	noise, stopProbe := probe()
	err := sleep(d.ctx, cfg.duration)
	stopProbe()
	if err != nil {
		return err
	}
	r.setRate(0)
	secs := time.Since(t0).Seconds()
	d.measureEnd = d.m.snap("measure end")
	res.Measure.Oversleep = noise.Summary()
	if err := <-profiled; err != nil {
		res.addNote("CPU profile: %v", err)
	}
	r.phase.Store(phaseDrain)
	res.Measure.fill(rate, secs, ph, d.measureStart, d.measureEnd, d.windowDialogs(), r.errs.total.Load()-errs0)
	res.Measure.FromSearch = cfg.rate <= 0
	return nil
}

// awaitDelivery waits until what was published has been shown and its
// receipts are back, then takes the last snapshot.
func (d *driver) awaitDelivery() error {
	drain(d.ctx, d.r, 10*time.Second)
	settle(d.ctx, d.sessions, 10*time.Second)
	if d.ctx.Err() != nil {
		return d.ctx.Err()
	}
	d.after = d.m.snap("after")
	return nil
}

// tally counts what went wrong over the run and fills the totals, the
// phases' figures, the errors and the agreement with the windows' own.
func (d *driver) tally() {
	r, res := d.r, d.res
	// The tally: the window's own count of what went wrong, then ours.
	windowErrors(r, d.before, d.after)
	msgs, lost, dup := r.ledger.tally()
	if lost > 0 {
		r.errs.addN("message never shown by its tab", lost, "%d of %d messages", lost, msgs)
	}
	var missA, missR int
	for _, s := range d.sessions {
		a, rd := s.missing()
		missA, missR = missA+a, missR+rd
	}
	if missA+missR > 0 {
		r.errs.addN("receipt never seen by the agent", int64(missA+missR), "%d ACCEPT, %d READ reported by tabs and never received", missA, missR)
	}
	var reconnects int
	for _, s := range d.sessions {
		s.mu.Lock()
		reconnects += s.reconnect
		s.mu.Unlock()
	}
	res.Totals = totals{Messages: msgs, Lost: lost, Duplicated: dup, MissingAccept: missA, MissingRead: missR, TabReconnects: reconnects}
	for k := range d.agents {
		res.Totals.PacerBehind += d.agents[k].behind.Load()
	}
	for i := range nPhases {
		res.Phases = append(res.Phases, r.stats[i].summary(phaseNames[i]))
	}
	res.Errors = r.errs.list()
	res.ErrorTotal = r.errs.total.Load()
	res.ErrWindow, res.ErrAgents = r.errs.bySide()
	res.agreement(r, d.before, d.after, d.measureStart, d.measureEnd)
}

// writeCapture writes the frames session s captured, one JSON string a line.
func writeCapture(path string, s *session, frames *[][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, f := range *frames {
		j, _ := json.Marshal(string(f))
		b.Write(j)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// windowDialogs is how many conversations the agents accepted, less the
// floor's tabs' (-floor): the receipt frames per dialog are the windows'.
func (d *driver) windowDialogs() int64 {
	n := d.r.joined.Load()
	if d.r.floorNode < 0 {
		return n
	}
	for _, s := range d.sessions {
		if s.win == d.r.floorNode && s.conversation() != "" {
			n--
		}
	}
	return n
}

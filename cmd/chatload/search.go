package main

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// search steps the rate up until delivery falls behind: the received rate
// under 95 % of the published one, a backlog that grows, a publish rate
// under 95 % of the one asked for (the agents or the service cannot take
// it), or errors. It returns the last rate that held (0 if none).
func search(ctx context.Context, cfg config, r *loadRun, log *slog.Logger, res *result) float64 {
	best := 0.0
	for rate := cfg.startRate; rate <= cfg.maxRate; rate *= cfg.stepFactor {
		pub0, recv0, err0 := r.published.Load(), r.received.Load(), r.errs.total.Load()
		h := newHist()
		r.stepRelay.Store(h)
		r.setRate(rate)
		t0 := time.Now()
		if sleep(ctx, cfg.step) != nil {
			r.setRate(0)
			r.stepRelay.Store(nil)
			return best
		}
		secs := time.Since(t0).Seconds()
		pub, recv := r.published.Load()-pub0, r.received.Load()-recv0
		backlog0, backlog := max(pub0-recv0, 0), max(r.published.Load()-r.received.Load(), 0)
		st := step{
			Rate: rate, Published: float64(pub) / secs, Received: float64(recv) / secs,
			Backlog: backlog, Errors: r.errs.total.Load() - err0,
			RelayP50: ms(h.Quantile(0.5)), RelayP99: ms(h.Quantile(0.99)),
		}
		switch {
		case st.Errors > 0:
			st.Verdict = "errors"
		case st.Published < 0.95*rate:
			st.Verdict = "publishers fell behind"
		case st.Received < 0.95*st.Published:
			st.Verdict = "tabs fell behind"
		case float64(backlog) > float64(backlog0)+0.02*float64(pub)+10:
			st.Verdict = "backlog grew"
		case float64(backlog) > 0.1*rate+10:
			// Little's law: more than 100 ms of messages in flight is a
			// mean relay latency over 100 ms, a system that queues.
			st.Verdict = "backlog over 100 ms"
		default:
			st.Verdict = "ok"
		}
		res.Search.Steps = append(res.Search.Steps, st)
		log.Info("step", "rate", math.Round(rate), "published", math.Round(st.Published), "received", math.Round(st.Received), "backlog", backlog,
			"relay_p50_ms", st.RelayP50, "relay_p99_ms", st.RelayP99, "errors", st.Errors, "verdict", st.Verdict)
		if st.Verdict != "ok" {
			break
		}
		best = rate
		res.Search.BestReceived = st.Received
	}
	r.setRate(0)
	r.stepRelay.Store(nil)
	return best
}

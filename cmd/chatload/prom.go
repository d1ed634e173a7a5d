package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample is one line of Prometheus's text exposition format:
// name{label="value",…} value [timestamp].
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// scrape is a parsed /metrics answer. The zero scrape (nil samples) is a
// process without metrics: every lookup says so (ok false).
type scrape []sample

// parseProm reads Prometheus's text format (what promhttp writes) with the
// Prometheus client's own parser and flattens it back into its samples: a
// histogram becomes its name_bucket{le=…}, name_sum and name_count, a
// summary its quantiles, name_sum and name_count.
func parseProm(r io.Reader) (scrape, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out scrape
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			add := func(n string, v float64, extra ...string) {
				labels := map[string]string{}
				for _, lp := range m.GetLabel() {
					labels[lp.GetName()] = lp.GetValue()
				}
				for i := 0; i+1 < len(extra); i += 2 {
					labels[extra[i]] = extra[i+1]
				}
				out = append(out, sample{Name: n, Labels: labels, Value: v})
			}
			switch {
			case m.Histogram != nil:
				h := m.GetHistogram()
				count := float64(h.GetSampleCount()) + h.GetSampleCountFloat()
				hasInf := false
				for _, b := range h.GetBucket() {
					hasInf = hasInf || math.IsInf(b.GetUpperBound(), 1)
					add(name+"_bucket", float64(b.GetCumulativeCount())+b.GetCumulativeCountFloat(), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				if !hasInf {
					add(name+"_bucket", count, "le", "+Inf")
				}
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", count)
			case m.Summary != nil:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				add(name+"_sum", sm.GetSampleSum())
				add(name+"_count", float64(sm.GetSampleCount()))
			case m.Counter != nil:
				add(name, m.GetCounter().GetValue())
			case m.Gauge != nil:
				add(name, m.GetGauge().GetValue())
			default:
				add(name, m.GetUntyped().GetValue())
			}
		}
	}
	return out, nil
}

// matches reports whether s has every label of want (pairs name, value).
func (s sample) matches(name string, want []string) bool {
	if s.Name != name {
		return false
	}
	for i := 0; i+1 < len(want); i += 2 {
		if s.Labels[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}

// Get sums the samples of a metric with the given labels (name, value
// pairs); ok is false when there is none.
func (sc scrape) Get(name string, labels ...string) (v float64, ok bool) {
	for _, s := range sc {
		if s.matches(name, labels) {
			v += s.Value
			ok = true
		}
	}
	return v, ok
}

// bucket is one cumulative bucket of a histogram.
type bucket struct {
	le    float64
	count float64
}

// Buckets returns a histogram's cumulative buckets (name without the
// _bucket suffix), sorted by bound.
func (sc scrape) Buckets(name string, labels ...string) []bucket {
	byLE := map[float64]float64{}
	for _, s := range sc {
		if !s.matches(name+"_bucket", labels) {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64) // takes "+Inf"
		if err != nil {
			continue
		}
		byLE[le] += s.Value
	}
	out := make([]bucket, 0, len(byLE))
	for le, c := range byLE {
		out = append(out, bucket{le, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// histDelta is after − before, bucket by bound (before may be empty).
func histDelta(after, before []bucket) []bucket {
	prev := map[float64]float64{}
	for _, b := range before {
		prev[b.le] = b.count
	}
	out := make([]bucket, len(after))
	for i, b := range after {
		out[i] = bucket{b.le, b.count - prev[b.le]}
	}
	return out
}

// promQuantile estimates a quantile from cumulative buckets the way
// Prometheus's histogram_quantile does: linear within the bucket that
// holds the rank (the first bucket from 0). NaN when there is no count;
// the highest finite bound when the rank falls into +Inf.
func promQuantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lo, below := 0.0, 0.0
	for i, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				if i == 0 {
					return math.NaN()
				}
				return bs[i-1].le
			}
			in := b.count - below
			if in <= 0 {
				return b.le
			}
			return lo + (b.le-lo)*(rank-below)/in
		}
		lo, below = b.le, b.count
	}
	return bs[len(bs)-1].le
}

// scrapeMetrics fetches base/metrics, base being a window's -debug-addr
// (the window serves its metrics there only). No base, or a 404, is not an
// error: the process has no metrics (nil scrape).
func scrapeMetrics(ctx context.Context, hc *http.Client, base string) (scrape, error) {
	if base == "" {
		return nil, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, resp.Body)
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("metrics %s: %s", req.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", req.URL, err)
	}
	return parseProm(bytes.NewReader(b))
}

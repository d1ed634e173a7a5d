package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a log-linear histogram of durations in nanoseconds, in the
// manner of HDR histograms: values below 128 ns have a bucket each; above,
// every power of two is cut into 64 equal buckets, so a bucket is at most
// 1/64 of its lower bound wide and a quantile (its bucket's midpoint) is
// within 0.8 % of the true value, whatever the range. Recording is one
// atomic add: many goroutines record at once without a lock.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // ns; overflows after 584 years of latency
	min    atomic.Int64  // valid when n > 0
	max    atomic.Int64
}

const (
	histSubBits = 6                                   // 64 buckets per power of two
	histLinear  = 2 << histSubBits                    // values below this have their own bucket
	histBuckets = (64-histSubBits)<<histSubBits + 128 // enough for any int64
)

func newHist() *hist {
	h := &hist{}
	h.min.Store(math.MaxInt64)
	return h
}

// bucketOf returns the bucket of a value (negative values count as 0).
func bucketOf(v int64) int {
	if v < histLinear {
		return int(max(v, 0))
	}
	u := uint64(v)
	shift := bits.Len64(u) - histSubBits - 1 // ≥ 1
	mantissa := u >> shift                   // in [64, 128)
	return shift<<histSubBits + int(mantissa)
}

// bucketRange returns the values [lo, lo+width) of bucket i.
func bucketRange(i int) (lo, width int64) {
	if i < histLinear {
		return int64(i), 1
	}
	shift := i>>histSubBits - 1
	mantissa := int64(i&(1<<histSubBits-1) + 1<<histSubBits)
	return mantissa << shift, 1 << shift
}

// Record adds one value.
func (h *hist) Record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(max(v, 0)))
	for {
		m := h.min.Load()
		if v >= m || h.min.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Count is the number of values recorded.
func (h *hist) Count() uint64 { return h.n.Load() }

// Quantile returns the value below which a fraction q of the values lie
// (the midpoint of its bucket, within the values seen); 0 when empty.
func (h *hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, w := bucketRange(i)
			v := lo + (w-1)/2
			return time.Duration(min(max(v, h.min.Load()), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Mean is the average value; 0 when empty.
func (h *hist) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Max is the largest value; 0 when empty.
func (h *hist) Max() time.Duration {
	if h.n.Load() == 0 {
		return 0
	}
	return time.Duration(h.max.Load())
}

// latency is a histogram's summary, for the report.
type latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func (h *hist) Summary() latency {
	return latency{
		Count: h.Count(),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Quantile(0.50)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(h.Max()),
	}
}

package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketRange(t *testing.T) {
	// Every value falls in its bucket's range, and a bucket is at most
	// 1/64 of its lower bound wide.
	r := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, math.MaxInt64}
	for range 10000 {
		values = append(values, r.Int64N(1<<uint(r.IntN(62)+1)))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("value %d: bucket %d out of range", v, i)
		}
		lo, w := bucketRange(i)
		if v < lo || v-lo >= w {
			t.Fatalf("value %d in bucket %d = [%d, %d+%d)", v, i, lo, lo, w)
		}
		if lo >= 128 && float64(w)/float64(lo) > 1.0/64 {
			t.Fatalf("bucket %d too wide: [%d, +%d)", i, lo, w)
		}
	}
	// Buckets are contiguous.
	for i := 1; i < histBuckets; i++ {
		plo, pw := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if plo+pw != lo && lo > 0 {
			t.Fatalf("bucket %d starts at %d, the one before ends at %d", i, lo, plo+pw)
		}
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-10ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential mean 1ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Millisecond)) }},
		{"bimodal 200µs / 50ms", func(r *rand.Rand) time.Duration {
			if r.IntN(100) < 2 {
				return 50*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return 200*time.Microsecond + time.Duration(r.Int64N(int64(20*time.Microsecond)))
		}},
		{"tiny values", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(300)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			h := newHist()
			var all []time.Duration
			for range 100000 {
				v := tt.gen(r)
				h.Record(v)
				all = append(all, v)
			}
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				exact := all[int(math.Ceil(q*float64(len(all))))-1]
				got := h.Quantile(q)
				// Within half a bucket (1/128 of the value) or 1 ns.
				if diff := math.Abs(float64(got - exact)); diff > math.Max(float64(exact)/128, 1) {
					t.Errorf("q%.3f = %v, exact %v", q, got, exact)
				}
			}
			if h.Count() != uint64(len(all)) || h.Max() != all[len(all)-1] {
				t.Errorf("count %d max %v, want %d %v", h.Count(), h.Max(), len(all), all[len(all)-1])
			}
		})
	}
}

func TestHistEmptyAndConcurrent(t *testing.T) {
	h := newHist()
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Error("an empty histogram is all zeros")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000 + i))
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 7999 || h.Quantile(0) != 0 {
		t.Errorf("count %d, max %v, min %v", h.Count(), h.Max(), h.Quantile(0))
	}
}

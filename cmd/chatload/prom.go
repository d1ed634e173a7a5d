package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
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

// parseProm parses the text format (version 0.0.4), leniently: comments
// and blank lines are skipped, a line that cannot be read is an error
// naming it.
func parseProm(r io.Reader) (scrape, error) {
	var out scrape
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parsePromLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

func parsePromLine(line string) (sample, error) {
	var s sample
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, errors.New("no value")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		s.Labels = map[string]string{}
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " \t,")
			if line == "" {
				return s, errors.New("unterminated labels")
			}
			if line[0] == '}' {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, errors.New("bad label")
			}
			name := strings.TrimSpace(line[:eq])
			value, rest, err := promQuoted(line[eq+2:])
			if err != nil {
				return s, err
			}
			s.Labels[name] = value
			line = rest
		}
	}
	fields := strings.Fields(line)
	if len(fields) < 1 || len(fields) > 2 {
		return s, errors.New("want a value and an optional timestamp")
	}
	v, err := parsePromFloat(fields[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// promQuoted reads a label value up to its closing quote (escapes: \\ \" \n).
func promQuoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("unterminated escape")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated label value")
}

func parsePromFloat(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	return v, nil
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
		le, err := parsePromFloat(s.Labels["le"])
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

// scrapeMetrics fetches base/metrics. A 404 is not an error: the process
// has no metrics (nil scrape).
func scrapeMetrics(ctx context.Context, hc *http.Client, base string) (scrape, error) {
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

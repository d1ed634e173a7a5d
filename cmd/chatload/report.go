package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
)

// row is one line of the table.
type row struct {
	Metric string `json:"metric"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Status string `json:"status"`
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "missed"
}

func kib(b float64) string {
	if math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// targetScale is the scale of the targets (docs/performance.md, Targets):
// below it, a target is shown but not judged.
const targetScale = 10000

// buildTable puts the figures against the targets of docs/performance.md.
func (res *result) buildTable() {
	var t []row
	add := func(metric, value, target, status string) { t = append(t, row{metric, value, target, status}) }
	if res.Ramp.Sessions > 0 {
		rr := res.Ramp
		full := rr.Sessions >= targetScale
		judge := func(ok bool) string {
			if !full {
				return "(" + verdict(ok) + " at " + fmt.Sprint(rr.Sessions) + ")"
			}
			return verdict(ok)
		}
		add("sessions held (idle)", fmt.Sprintf("%d of %d, %d errors (agents' side: %d)", rr.Held, rr.Sessions, rr.Errors, rr.AgentErrors), "10,000 with 0 errors",
			judge(rr.Held == rr.Sessions && rr.Errors == 0 && full))
		add("window memory/session: live heap + stacks", kib(rr.HeapLiveB+rr.StacksB), "≤ 40 KiB", judgeNaN(rr.HeapLiveB+rr.StacksB, func(v float64) bool { return v <= 40<<10 }))
		add("window memory/session: RSS", kib(rr.RSSB), "≤ 64 KiB", judgeNaN(rr.RSSB, func(v float64) bool { return v <= 64<<10 }))
		add("window memory/session: heap objects (incl. garbage)", kib(rr.HeapObjectsB), "", "")
		add("window goroutines/session", num(rr.Goroutines, "%.2f"), "≤ 3", judgeNaN(rr.Goroutines, func(v float64) bool { return math.Round(v*100)/100 <= 3 }))
		if len(res.Windows) <= 1 {
			add("window RSS, fds (idle)", fmt.Sprintf("%.0f MiB, %d fds", float64(rr.WindowRSS)/(1<<20), rr.WindowFDs), "", "")
			add("CPU while idle: window, service, chatload", fmt.Sprintf("%s, %s, %s cores", num(rr.IdleCores[0], "%.3f"), num(rr.IdleCores[1], "%.3f"), num(rr.IdleCores[2], "%.3f")), "", "")
		} else {
			// The open-file limit is each process's: each window's fds
			// against it.
			var each []string
			for _, w := range res.Windows {
				if w.Name == floorName {
					add(w.Name+": held, RSS, fds, CPU (idle)", fmt.Sprintf("%d of %d sessions, %.0f MiB, %d fds, %s cores", w.Held, w.Sessions, float64(w.WindowRSS)/(1<<20), w.WindowFDs, num(w.IdleCores, "%.3f")), "", "")
					continue
				}
				add(w.Name+": held, RSS, fds (idle)", fmt.Sprintf("%d of %d sessions, %.0f MiB, %d fds (limit %d a process)", w.Held, w.Sessions, float64(w.WindowRSS)/(1<<20), w.WindowFDs, res.NoFile.Soft), "", "")
				each = append(each, num(w.IdleCores, "%.3f"))
			}
			add("CPU while idle: windows, service, chatload", fmt.Sprintf("%s (%s), %s, %s cores", num(rr.IdleCores[0], "%.3f"), strings.Join(each, " + "), num(rr.IdleCores[1], "%.3f"), num(rr.IdleCores[2], "%.3f")), "", "")
		}
	}
	if len(res.Search.Steps) > 0 {
		s := res.Search
		add("max sustained rate (search)", fmt.Sprintf("%.0f msgs/s (tabs received %.0f/s)", s.MaxSustained, s.BestReceived), "≥ 12,000 msgs/s",
			verdict(s.BestReceived >= 12000))
	}
	if m := res.Measure; m.Seconds > 0 {
		how := "half the max sustained"
		if !m.FromSearch {
			how = "-rate"
		}
		add("measure phase", fmt.Sprintf("%.0f msgs/s asked, %d dialogs, %.1f s", m.Rate, m.Dialogs, m.Seconds), how, "")
		add("relayed msgs/s (measure)", fmt.Sprintf("%.0f", m.MsgsPerSecond), "", "")
		add("relay latency p50/p99/p99.9", fmt.Sprintf("%.2f / %.2f / %.2f ms", m.Relay.P50, m.Relay.P99, m.Relay.P999), "", "")
		if own := res.agreed(agreeRelayP99); !math.IsNaN(own) {
			// The window's part alone (upstream frame read → tab frame
			// written): what the window's own code can promise.
			add("window's own relay p99", fmt.Sprintf("%.2f ms", own), "≤ 2 ms at "+how, verdict(own <= 2))
		}
		if m.FloorRelay.Count > 0 {
			add("floor's relay latency p50/p99/p99.9", fmt.Sprintf("%.2f / %.2f / %.2f ms", m.FloorRelay.P50, m.FloorRelay.P99, m.FloorRelay.P999), "", "")
		}
		add("receipt latency p50/p99/p99.9", fmt.Sprintf("%.1f / %.1f / %.1f ms", m.Receipt.P50, m.Receipt.P99, m.Receipt.P999), "p99 ≤ 120 ms", verdict(m.Receipt.Count > 0 && m.Receipt.P99 <= 120))
		add("agent publish round trip p50/p99", fmt.Sprintf("%.2f / %.2f ms", m.Publish.P50, m.Publish.P99), "", "")
		add("receipt frames per dialog", fmt.Sprintf("%.2f/s; at most %d in 100 ms (%d frames beyond 1)", m.FramesPerDialogS, m.MaxFrames100ms, m.FramesOver1), "≤ 1 per 100 ms", verdict(m.MaxFrames100ms <= 1))
		add("machine noise: 1 ms sleep woke late by, p99/max", fmt.Sprintf("%.2f / %.2f ms", m.Oversleep.P99, m.Oversleep.Max), "", "")
		for _, c := range m.CPU {
			of := ""
			if c.Messages != m.Received {
				// A window of several: per message it relayed.
				of = fmt.Sprintf(" (of the %d it relayed)", c.Messages)
			}
			target, status := "", ""
			if us, ok := cpuTargetUS[c.Process]; ok {
				target = fmt.Sprintf("≤ %d µs per msg", us)
				status = judgeNaN(c.Per1000Msg, func(v float64) bool { return v*1000 <= float64(us) })
			}
			add("CPU "+c.Process, fmt.Sprintf("%s s (%s cores), %s µs per msg%s", num(c.Seconds, "%.2f"), num(c.Cores, "%.2f"), num(c.Per1000Msg*1000, "%.0f"), of), target, status)
		}
		if win, floor, ok := m.floorCPU(); ok {
			ratio := win / floor
			add("window CPU per msg vs the floor's", fmt.Sprintf("%s µs / %s µs = %s×", num(win, "%.0f"), num(floor, "%.0f"), num(ratio, "%.2f")), "≤ 1.5×", verdict(ratio <= 1.5))
		}
	}
	if agent, customer, ok := res.renderBench(); ok {
		add("render of one message fragment", fmt.Sprintf("%s µs / %.0f allocs (agent text), %s µs / %.0f allocs (customer, ticks)",
			num(agent.NsPerOp/1000, "%.2f"), agent.AllocsOp, num(customer.NsPerOp/1000, "%.2f"), customer.AllocsOp),
			"≤ 1 µs, ≤ 8 allocs", verdict(max(agent.NsPerOp, customer.NsPerOp) <= 1000 && max(agent.AllocsOp, customer.AllocsOp) <= 8))
	}
	if res.Ramp.Sessions > 0 {
		tt := res.Totals
		add("errors", fmt.Sprintf("%d: window's side %d (lost %d, duplicated %d, receipts missing %d), agents' side %d", res.ErrorTotal, res.ErrWindow, tt.Lost, tt.Duplicated, tt.MissingAccept+tt.MissingRead, res.ErrAgents), "0", verdict(res.ErrorTotal == 0))
	}
	res.Table = t
}

// cpuTargetUS is each process's CPU target per relayed message
// (docs/performance.md, Targets); a window of several is judged each.
var cpuTargetUS = map[string]int{"window": 90, "service": 90}

// agreeRelayP99 names the agreement row whose window figure is the
// window's own relay latency p99.
const agreeRelayP99 = "relay latency p99, ms (measure)"

// agreed is the window's figure of the agreement row named what (NaN:
// none).
func (res *result) agreed(what string) float64 {
	for _, a := range res.Agreement {
		if a.What == what {
			return a.Window
		}
	}
	return math.NaN()
}

// renderBench is the two fragment benchmarks of -bench: an agent's text
// and a customer's message with ticks.
func (res *result) renderBench() (agent, customer benchRow, ok bool) {
	var found int
	for _, b := range res.Bench {
		switch {
		case strings.HasPrefix(b.Name, "BenchmarkRenderMessageFragment/agent-text"):
			agent, found = b, found|1
		case strings.HasPrefix(b.Name, "BenchmarkRenderMessageFragment/customer-ticks"):
			customer, found = b, found|2
		}
	}
	return agent, customer, found == 3
}

func judgeNaN(v float64, ok func(float64) bool) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return verdict(ok(v))
}

// print writes the human-readable report.
func (res *result) print(w io.Writer) {
	m := res.Machine
	fmt.Fprintf(w, "chatload — %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, kernel %s, load average %s at start", m.CPU, m.Cores, m.GoVersion, m.Kernel, m.Load)
	if res.Window.GoVersion != "" {
		fmt.Fprintf(w, " (window built with %s)", res.Window.GoVersion)
	}
	fmt.Fprintln(w)
	if nf := res.NoFile; nf.Error != "" {
		fmt.Fprintf(w, "open files: wanted %d, have %d (hard %d): %s", nf.Wanted, nf.Soft, nf.Hard, nf.Error)
		if nf.Windows > 1 {
			fmt.Fprintf(w, " (the limit is each process's: each of the %d windows holds 2 per session of its share)", nf.Windows)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if len(res.Table) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "metric\tvalue\ttarget\tstatus")
		fmt.Fprintln(tw, "------\t-----\t------\t------")
		for _, r := range res.Table {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Metric, r.Value, r.Target, r.Status)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Search.Steps) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "search step\tasked/s\tpublished/s\treceived/s\tbacklog\trelay p50 ms\trelay p99 ms\terrors\t verdict\t")
		for i, s := range res.Search.Steps {
			fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%d\t%.2f\t%.2f\t%d\t %s\t\n", i+1, s.Rate, s.Published, s.Received, s.Backlog, s.RelayP50, s.RelayP99, s.Errors, s.Verdict)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Agreement) > 0 {
		nw := 0
		for _, x := range res.Windows {
			if x.Name != floorName {
				nw++
			}
		}
		if nw > 1 {
			fmt.Fprintf(w, "agreement with the %d windows' /metrics (counters summed, histograms merged):\n", nw)
		} else {
			fmt.Fprintln(w, "agreement with the window's /metrics:")
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range res.Agreement {
			fmt.Fprintf(tw, "  %s\tchatload %s\twindow %s\tdiff %s\t%s\n", a.What, num(a.Chatload, "%.3f"), num(a.Window, "%.3f"), num(a.Chatload-a.Window, "%+.3f"), a.Note)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range res.Errors {
			fmt.Fprintf(w, "  %6d  %s: %s\n", e.Count, e.Kind, strings.Join(e.Samples, " | "))
		}
		fmt.Fprintln(w)
	}
	for _, l := range res.Logs {
		if l.Warnings+l.Errors > 0 {
			fmt.Fprintf(w, "%s log: %d warnings, %d errors; last lines:\n", l.Process, l.Warnings, l.Errors)
			for _, line := range l.Tail[max(0, len(l.Tail)-5):] {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(res.Bench) > 0 {
		if len(res.Table) > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "benchmark\tns/op\tB/op\tallocs/op\t other\t")
		for _, b := range res.Bench {
			var other []string
			for _, u := range b.Units {
				other = append(other, fmt.Sprintf("%.4g %s", b.Custom[u], u))
			}
			bop, aop := "", ""
			if b.HasMem {
				bop, aop = fmt.Sprintf("%.0f", b.BytesPerOp), fmt.Sprintf("%.0f", b.AllocsOp)
			}
			name := b.Name
			if b.Pkg != "" {
				name = shortPkg(b.Pkg) + "." + strings.TrimPrefix(b.Name, "Benchmark")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t %s\t\n", name, nsOp(b.NsPerOp), bop, aop, strings.Join(other, ", "))
		}
		tw.Flush()
	}
}

// nsOp prints ns/op as go test does: whole above 100, else 4 digits.
func nsOp(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// writeJSON writes every figure (NaN, which JSON lacks, as null).
func (res *result) writeJSON(path string) error {
	b, err := json.MarshalIndent(sanitize(res), "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// sanitize turns v into plain values (maps, slices, numbers, strings),
// by its json tags, with NaN and ±Inf as null: encoding/json refuses them.
func sanitize(v any) any { return plain(reflect.ValueOf(v)) }

func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				// An embedded struct's fields are its parent's, as
				// encoding/json has them.
				maps.Copy(out, plain(v.Field(i)).(map[string]any))
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			out[name] = plain(fv)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = plain(v.MapIndex(k))
		}
		return out
	default:
		return v.Interface()
	}
}

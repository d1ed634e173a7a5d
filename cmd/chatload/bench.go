package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// benchRow is one result line of `go test -bench -benchmem`.
type benchRow struct {
	Pkg        string             `json:"pkg"`
	Name       string             `json:"name"`
	Iterations int64              `json:"iterations"`
	NsPerOp    float64            `json:"ns_per_op"`
	BytesPerOp float64            `json:"bytes_per_op"`
	AllocsOp   float64            `json:"allocs_per_op"`
	HasMem     bool               `json:"has_mem"`
	Custom     map[string]float64 `json:"custom,omitempty"` // unit → value (ns/msg, MB/s, …)
	Units      []string           `json:"-"`                // custom units in their order
}

// parseBench reads `go test -bench` output: "pkg:" lines name the package
// of the rows after them; a row is "BenchmarkName-P  N  v unit  v unit …".
// Other lines (goos, PASS, ok, logs) are skipped.
func parseBench(r io.Reader) ([]benchRow, error) {
	var out []benchRow
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // a log line that starts with a benchmark's name
		}
		row := benchRow{Pkg: pkg, Name: f[0], Iterations: n}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				row.NsPerOp = v
			case "B/op":
				row.BytesPerOp, row.HasMem = v, true
			case "allocs/op":
				row.AllocsOp, row.HasMem = v, true
			default:
				if row.Custom == nil {
					row.Custom = map[string]float64{}
				}
				row.Custom[unit] = v
				row.Units = append(row.Units, unit)
			}
		}
		if ok {
			out = append(out, row)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read bench output: %w", err)
	}
	return out, nil
}

// shortPkg drops the module path from a package path.
func shortPkg(p string) string {
	const module = "github.com/chatwindow/chatwindow/"
	return strings.TrimPrefix(p, module)
}

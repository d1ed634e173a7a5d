//go:build unix

package simulator

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process has used:
// a benchmark's wall time per op is mostly waiting on the loopback round
// trips, its CPU time per op is what the work costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

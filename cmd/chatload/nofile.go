package main

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
)

// noFile is chatload's open-file limit, which its children inherit: it is
// per process, each window's own.
type noFile struct {
	Wanted  uint64 `json:"wanted"`
	Soft    uint64 `json:"soft"`
	Hard    uint64 `json:"hard"`
	Windows int    `json:"windows"` // window processes sharing the sessions
	Error   string `json:"error,omitempty"`
}

// setOpenFileLimit raises the open-file limit for the run: to cfg.nofile,
// or (0) to what its sessions need (noFileWanted). A limit it could not
// raise is logged and reported, not fatal.
func setOpenFileLimit(cfg config, log *slog.Logger) noFile {
	want := cfg.nofile
	if want == 0 {
		want = noFileWanted(cfg.sessions, cfg.windows)
	}
	soft, hard, err := raiseNoFile(want)
	nf := noFile{Wanted: want, Soft: soft, Hard: hard, Windows: cfg.windows}
	if err != nil {
		nf.Error = err.Error()
		log.Warn("open-file limit not raised: each window needs about 2 per session it holds", "want", want, "soft", soft, "hard", hard, "error", err)
	}
	return nf
}

// raiseNoFile sets chatload's open-file limit (soft and hard) to at least
// n; children inherit it. Raising the hard limit needs CAP_SYS_RESOURCE.
func raiseNoFile(n uint64) (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= n {
		return lim.Cur, lim.Max, nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(n, lim.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// At least the soft limit up to the hard one.
		if lim.Cur < lim.Max {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
		return lim.Cur, lim.Max, fmt.Errorf("setrlimit NOFILE %d: %w", n, err)
	}
	return want.Cur, want.Max, nil
}

// noFileWanted is the open-file limit a run needs: the limit is per
// process (the children inherit chatload's), and the most any one needs
// is a window's 2 per session of its share (the tab's socket and its
// upstream) or chatload's and the service's 1 per session; 1000 to spare.
func noFileWanted(sessions, windows int) uint64 {
	share := (sessions + windows - 1) / windows
	return uint64(max(2*share, sessions) + 1000)
}

// fdNotes notes the processes at (or within 64 of) their open-file limit
// with the sessions held: there, the sessions beyond are refused, and the
// limit, not the window, bounds the figures.
func fdNotes(res *result, idle snapshot) {
	limit := res.NoFile.Soft
	if limit == 0 {
		return
	}
	near := func(what string, fds int) {
		if uint64(fds)+64 >= limit {
			res.addNote("%s has %d files open with the sessions held, at its open-file limit (%d a process): sessions beyond it cannot be held", what, fds, limit)
		}
	}
	for i, w := range idle.windows {
		if w.procOK && res.Windows[i].PID != 0 {
			near("the "+w.name, w.proc.FDs)
		}
	}
	if idle.serviceOK {
		near("the service", idle.service.FDs)
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		near("chatload", len(ents))
	}
}

// Package lockout counts failed sign-ins per key (an account and username,
// a client address) and locks a key out after too many: the lockout doubles
// with each further round of failures, up to a cap, and a success clears
// it. The embedded service's agent login and the agent console's sign-in
// use it (docs/simulator.md, docs/console.md).
package lockout

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Policy says when a key is locked out and for how long. Zero fields take
// the defaults named on each.
type Policy struct {
	// Threshold is how many failures start a lockout; default 5. After a
	// lockout ends, as many further failures start the next one.
	Threshold int
	// Lockout is the first lockout; each next one (with no success in
	// between) doubles, up to MaxLockout. Defaults 1 min and 1 h.
	Lockout, MaxLockout time.Duration
	// Forget is how long a key is remembered after its last failure or the
	// end of its lockout, whichever is later: then its count and doublings
	// start again. Default 1 h.
	Forget time.Duration
	// MaxEntries bounds the table; default 10,000. A full table forgets
	// what it may, then the key it would forget first.
	MaxEntries int
}

func (p *Policy) defaults() {
	if p.Threshold <= 0 {
		p.Threshold = 5
	}
	if p.Lockout <= 0 {
		p.Lockout = time.Minute
	}
	if p.MaxLockout <= 0 {
		p.MaxLockout = time.Hour
	}
	p.MaxLockout = max(p.MaxLockout, p.Lockout)
	if p.Forget <= 0 {
		p.Forget = time.Hour
	}
	if p.MaxEntries <= 0 {
		p.MaxEntries = 10_000
	}
}

// Table counts the failures of keys under one Policy. It is safe for
// concurrent use.
//
// An attempt is bracketed: Begin, then Fail, Succeed or Drop. Attempts
// under way count towards the threshold, so that many attempts started
// together cannot pass it before their failures are known.
type Table struct {
	p   Policy
	now func() time.Time

	mu sync.Mutex
	// Keys are hashed: a key may be as long as a request allows, an entry
	// stays small.
	m map[[32]byte]*entry
}

type entry struct {
	fails   int // failures since the last lockout (or ever)
	pending int // attempts begun and not yet ended
	rounds  int // lockouts so far: the next one lasts Lockout << rounds
	until   time.Time
	last    time.Time // last failure
}

// forgetAt is when the entry may go: Forget after its last failure or its
// lockout's end, and never while an attempt is under way.
func (e *entry) forgetAt(p Policy) time.Time {
	t := e.last
	if e.until.After(t) {
		t = e.until
	}
	return t.Add(p.Forget)
}

// New returns an empty table; now is its clock (time.Now when nil).
func New(p Policy, now func() time.Time) *Table {
	p.defaults()
	if now == nil {
		now = time.Now
	}
	return &Table{p: p, now: now, m: map[[32]byte]*entry{}}
}

// Begin starts an attempt on key. While the key is locked out it starts
// nothing and answers how long the lockout still lasts (rounded up to a
// second). While as many attempts are under way as would lock it if they
// failed, it refuses too, for the length of the next lockout. Otherwise it
// answers 0 and the attempt counts until Fail, Succeed or Drop.
func (t *Table) Begin(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	h := sha256.Sum256([]byte(key))
	e := t.m[h]
	if e != nil && !now.Before(e.forgetAt(t.p)) && e.pending == 0 {
		delete(t.m, h)
		e = nil
	}
	if e == nil {
		e = &entry{}
		t.insert(h, e, now)
	}
	if wait := e.until.Sub(now); wait > 0 {
		return roundUp(wait)
	}
	if e.fails+e.pending >= t.p.Threshold {
		return roundUp(t.lockoutFor(e.rounds))
	}
	e.pending++
	return 0
}

// Fail ends an attempt that failed. When the failure starts a lockout it
// answers the lockout's length, else 0.
func (t *Table) Fail(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	h := sha256.Sum256([]byte(key))
	e := t.m[h]
	if e == nil {
		// Forgotten meanwhile (a full table): the failure still counts.
		e = &entry{}
		t.insert(h, e, now)
	}
	e.pending = max(e.pending-1, 0)
	if e.until.After(now) {
		// Locked by attempts that ended first: this one was already begun.
		return 0
	}
	e.fails++
	e.last = now
	if e.fails < t.p.Threshold {
		return 0
	}
	d := t.lockoutFor(e.rounds)
	e.rounds++
	e.fails = 0
	e.until = now.Add(d)
	return d
}

// Succeed ends an attempt that succeeded: the key is forgotten, lockout
// and doublings with it.
func (t *Table) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, sha256.Sum256([]byte(key)))
}

// Drop ends an attempt that says nothing about the key: not tried (the
// service could not be reached), or a success that must not clear it (a
// client address whose one good password must not wipe its failures on
// other names).
func (t *Table) Drop(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.m[sha256.Sum256([]byte(key))]; e != nil {
		e.pending = max(e.pending-1, 0)
	}
}

// Len is the number of keys remembered.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// lockoutFor is the length of lockout number round+1.
func (t *Table) lockoutFor(round int) time.Duration {
	d := t.p.Lockout
	for range round {
		if d >= t.p.MaxLockout {
			break
		}
		d *= 2
	}
	return min(d, t.p.MaxLockout)
}

// insert adds an entry, making room first when the table is full: every
// forgettable entry goes, and if none could, the one that would be
// forgotten first. Evicting lets an attacker with many keys push a lockout
// out; refusing new keys would let it lock everyone out. The per-address
// tables bound how many keys one client can bring.
func (t *Table) insert(h [32]byte, e *entry, now time.Time) {
	if len(t.m) >= t.p.MaxEntries {
		for k, x := range t.m {
			if x.pending == 0 && !now.Before(x.forgetAt(t.p)) {
				delete(t.m, k)
			}
		}
	}
	if len(t.m) >= t.p.MaxEntries {
		var oldest [32]byte
		var at time.Time
		found := false
		for k, x := range t.m {
			if f := x.forgetAt(t.p); !found || f.Before(at) {
				oldest, at, found = k, f, true
			}
		}
		delete(t.m, oldest)
	}
	t.m[h] = e
}

func roundUp(d time.Duration) time.Duration {
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

// Package hours is a contact center's office hours: when agents answer, and
// when they will next, so that the window can say so before the customer
// writes (docs/protocol.md, Queue state, says what the service adds).
package hours

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schedule is a week of opening hours in one time zone. A nil *Schedule is
// always open.
type Schedule struct {
	loc *time.Location
	// open[d] are the day's opening spans, in minutes from midnight.
	open [7][]span
}

type span struct{ from, to int }

var days = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse reads rules such as "Mon-Fri 09:00-17:00; Sat 10:00-14:00" in the
// zone loc: days (a day, a range of days or a comma-separated list) and a
// span a rule, rules separated by semicolons. A span ends after it starts,
// on the same day ("24:00" is the day's end). Empty rules give nil: always
// open.
func Parse(rules string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		return nil, errors.New("hours: no time zone")
	}
	s := &Schedule{loc: loc}
	rules = strings.TrimSpace(rules)
	if rules == "" {
		return nil, nil
	}
	for _, rule := range strings.Split(rules, ";") {
		f := strings.Fields(rule)
		if len(f) != 2 {
			return nil, fmt.Errorf("hours: %q: want DAYS HH:MM-HH:MM, like Mon-Fri 09:00-17:00", strings.TrimSpace(rule))
		}
		ds, err := parseDays(f[0])
		if err != nil {
			return nil, err
		}
		sp, err := parseSpan(f[1])
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			s.open[d] = append(s.open[d], sp)
		}
	}
	return s, nil
}

func parseDays(v string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(strings.ToLower(v), ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := days[from]
		b := a
		if isRange {
			var okTo bool
			b, okTo = days[to]
			ok = ok && okTo
		}
		if !ok {
			return nil, fmt.Errorf("hours: days %q: want Mon, Tue, … Sun, a range (Mon-Fri) or a list (Sat,Sun)", v)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseSpan(v string) (span, error) {
	from, to, ok := strings.Cut(v, "-")
	a, err1 := parseClock(from)
	b, err2 := parseClock(to)
	if !ok || err1 != nil || err2 != nil || b <= a {
		return span{}, fmt.Errorf("hours: span %q: want HH:MM-HH:MM, ending after it starts", v)
	}
	return span{a, b}, nil
}

func parseClock(v string) (int, error) {
	t, err := time.Parse("15:04", v)
	if v == "24:00" {
		return 24 * 60, nil
	}
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open reports whether agents answer at t.
func (s *Schedule) Open(t time.Time) bool {
	if s == nil {
		return true
	}
	t = t.In(s.loc)
	m := t.Hour()*60 + t.Minute()
	for _, sp := range s.open[t.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// Next is when agents next answer after t: t itself when open now, the
// zero time when the schedule never opens.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.Open(t) {
		return t
	}
	local := t.In(s.loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.loc)
	now := local.Hour()*60 + local.Minute()
	for i := range 8 {
		day := midnight.AddDate(0, 0, i)
		best := -1
		for _, sp := range s.open[day.Weekday()] {
			if (i > 0 || sp.from > now) && (best < 0 || sp.from < best) {
				best = sp.from
			}
		}
		if best >= 0 {
			return time.Date(day.Year(), day.Month(), day.Day(), best/60, best%60, 0, 0, s.loc)
		}
	}
	return time.Time{}
}

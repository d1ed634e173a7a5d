package hours

import (
	"strings"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("Mon-Fri 09:00-17:00; Sat 10:00-14:00", berlin)
	if err != nil {
		t.Fatal(err)
	}
	at := func(v string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", v, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		at, next string // Berlin times; 2026-12-07 is a Monday
	}{
		{"2026-12-07 09:00", "2026-12-07 09:00"}, // opens: open
		{"2026-12-07 16:59", "2026-12-07 16:59"},
		{"2026-12-07 17:00", "2026-12-08 09:00"}, // closes: tomorrow
		{"2026-12-07 06:30", "2026-12-07 09:00"}, // early: today
		{"2026-12-11 18:00", "2026-12-12 10:00"}, // Friday evening: Saturday
		{"2026-12-12 14:00", "2026-12-14 09:00"}, // Saturday after: Monday
		{"2026-12-13 12:00", "2026-12-14 09:00"}, // Sunday
	}
	for _, tt := range tests {
		now, want := at(tt.at), at(tt.next)
		if got := s.Next(now); !got.Equal(want) {
			t.Errorf("Next(%s) = %s, want %s", tt.at, got.In(berlin).Format("Mon 2006-01-02 15:04"), tt.next)
		}
		if open := s.Open(now); open != now.Equal(want) {
			t.Errorf("Open(%s) = %v", tt.at, open)
		}
	}
	// The same instant seen from another zone is the same answer.
	if got := s.Next(at("2026-12-07 17:30").UTC()); !got.Equal(at("2026-12-08 09:00")) {
		t.Errorf("Next from UTC = %s", got)
	}
	var always *Schedule
	if !always.Open(time.Now()) {
		t.Error("a nil schedule is closed")
	}
}

func TestParseRefusals(t *testing.T) {
	for _, tt := range []struct{ rules, want string }{
		{"Mon-Fri", "want DAYS HH:MM-HH:MM"},
		{"Mo 09:00-17:00", "days"},
		{"Mon-Fry 09:00-17:00", "days"},
		{"Mon 17:00-09:00", "ending after"},
		{"Mon 9-17", "span"},
		{"Mon 09:00-25:00", "span"},
	} {
		if _, err := Parse(tt.rules, time.UTC); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", tt.rules, err, tt.want)
		}
	}
	if s, err := Parse(" ", time.UTC); s != nil || err != nil {
		t.Errorf("Parse of nothing = %v, %v; want nil, nil (always open)", s, err)
	}
	if s, err := Parse("Sat,Sun 10:00-24:00; Fri-Mon 08:00-09:00", time.UTC); err != nil || !s.Open(time.Date(2026, 12, 13, 23, 59, 0, 0, time.UTC)) || !s.Open(time.Date(2026, 12, 14, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("lists, 24:00 and a range over Sunday: %v", err)
	}
}

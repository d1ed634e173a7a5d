package views

import "time"

// Clock is a time as the pages show it: its clock (15:04) and its ISO
// text for <time datetime>, in UTC (a page shows it in the reader's own
// zone); nothing for a time not known (shown).
func Clock(t time.Time) (text, iso string) {
	if !shown(t) {
		return "", ""
	}
	var a [64]byte
	b, clock := appendISO(a[:0], t)
	iso = string(b)
	if i := len(iso) - len("05:04:05Z") - 1; i >= 0 && iso[i:i+5] == string(clock) {
		return iso[i : i+5], iso // the clock of a four digit year, in iso
	}
	return string(clock), iso
}

// shown: t is a time known (neither the zero time nor the epoch, which a
// missing millisecond timestamp decodes to).
func shown(t time.Time) bool {
	return !t.IsZero() && t.UnixMilli() != 0
}

// appendTime writes t as a <time> element: its ISO text in datetime (no
// byte of it needs escaping), its clock as the text.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, `<time datetime="`...)
	b, clock := appendISO(b, t)
	b = append(b, `">`...)
	// clock is in b, before what is appended now; append reads it before
	// it writes, even into a new array.
	b = append(b, clock...)
	return append(b, `</time>`...)
}

// appendISO writes t's ISO text (RFC 3339, UTC) and returns its clock:
// in the ISO text ("2006-01-02T15:04:05Z") for a year of four digits,
// formatted on its own otherwise.
func appendISO(b []byte, t time.Time) (out, clock []byte) {
	t = t.UTC()
	start := len(b)
	b = t.AppendFormat(b, time.RFC3339)
	iso := b[start:]
	if len(iso) == len("2006-01-02T15:04:05Z") && iso[10] == 'T' {
		return b, iso[11:16]
	}
	var a [8]byte
	return b, t.AppendFormat(a[:0], "15:04")
}

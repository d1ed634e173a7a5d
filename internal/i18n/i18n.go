// Package i18n is the window's languages: which one a customer gets
// (Negotiate), its text direction, and the window's strings in it (T). The
// strings are keyed by their English text, so that a string with no
// translation yet stays readable; the catalogue test says which are
// missing.
package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lang is a language the window speaks.
type Lang struct {
	// Tag is its BCP 47 tag, for <html lang>.
	Tag string
	// RTL: written right to left (<html dir="rtl">).
	RTL bool
	// strings are its translations by English text (nil for English).
	strings map[string]string
	// units are its words for a wait (waitUnits).
	units waitUnits
}

// Dir is the language's text direction, for <html dir>.
func (l Lang) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

// The languages the window speaks, English first (the default).
var (
	English = Lang{Tag: "en", units: enUnits}
	Spanish = Lang{Tag: "es", strings: es, units: esUnits}
	German  = Lang{Tag: "de", strings: de, units: deUnits}
	Hebrew  = Lang{Tag: "he", RTL: true, strings: he, units: heUnits}
)

// All are the languages the window speaks.
var All = []Lang{English, Spanish, German, Hebrew}

// ByTag is the language of a primary tag ("de" for "de-CH"); false when the
// window does not speak it.
func ByTag(tag string) (Lang, bool) {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	if primary == "iw" { // Hebrew's old code, still sent by some browsers
		primary = "he"
	}
	for _, l := range All {
		if l.Tag == primary {
			return l, true
		}
	}
	return Lang{}, false
}

// Negotiate picks the customer's language: the embedding page's (explicit,
// a tag) when the window speaks it, else the first of Accept-Language, by
// preference, that it speaks, else English.
func Negotiate(explicit, acceptLanguage string) Lang {
	if l, ok := ByTag(explicit); ok {
		return l
	}
	if l, ok := ByTag(Preferred(acceptLanguage, func(tag string) bool { _, ok := ByTag(tag); return ok })); ok {
		return l
	}
	return English
}

// Preferred is the tag of an Accept-Language value that the browser
// prefers most (highest q, the first of equals) among those ok takes; ""
// when there is none. A q of 0, or one that is no number in [0, 1],
// refuses its tag.
func Preferred(acceptLanguage string, ok func(tag string) bool) string {
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.TrimSpace(tag)
		q := 1.0
		if v, isQ := strings.CutPrefix(strings.TrimSpace(params), "q="); isQ {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q > bestQ && ok(tag) {
			best, bestQ = tag, q
		}
	}
	return best
}

// T is s in the language: its translation, or s itself.
func (l Lang) T(s string) string {
	if t, ok := l.strings[s]; ok {
		return t
	}
	return s
}

// F is the translation of format with args put in (fmt verbs).
func (l Lang) F(format string, args ...any) string {
	return fmt.Sprintf(l.T(format), args...)
}

// waitUnits are a language's words for a wait: one and many of each unit.
type waitUnits struct {
	aMinute           string
	minute, hour, day [2]string // one, many
	pluralFrom        int       // the smallest count with the "many" form
}

// Wait says how long an answer usually takes, in words: "a minute",
// "10 minutes", "2 hours", "3 days"; "" for none.
func (l Lang) Wait(d time.Duration) string {
	u := l.units
	count := func(n int, forms [2]string) string {
		f := forms[0]
		if n >= u.pluralFrom {
			f = forms[1]
		}
		return strconv.Itoa(n) + " " + f
	}
	switch {
	case d <= 0:
		return ""
	case d <= time.Minute:
		return u.aMinute
	case d < time.Hour:
		return count(int((d+time.Minute-1)/time.Minute), u.minute)
	case d < 48*time.Hour:
		return count(int((d+time.Hour-1)/time.Hour), u.hour)
	}
	return count(int((d+24*time.Hour-1)/(24*time.Hour)), u.day)
}

// Sentences translates a text made of the window's sentences (a screen
// reader's announcement, which may join several): each sentence the
// catalogue has, and each that fills one of its formats with a name at
// its start ("Ann left the conversation."); anything else stays.
func (l Lang) Sentences(text string) string {
	if l.strings == nil {
		return text
	}
	if t, ok := l.strings[text]; ok {
		return t
	}
	var out []string
	for _, s := range sentences(text) {
		out = append(out, l.sentence(s))
	}
	return strings.Join(out, " ")
}

func (l Lang) sentence(s string) string {
	if t, ok := l.strings[s]; ok {
		return t
	}
	for _, format := range nameFirst {
		if name, ok := strings.CutSuffix(s, format[len("%s"):]); ok && name != "" {
			return l.F(format, l.T(name))
		}
	}
	return s
}

// nameFirst are the formats whose value (a name) comes first.
var nameFirst = []string{"%s left the conversation."}

// sentences cuts text after each full stop, question mark or ellipsis
// followed by a space.
func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		if text[i] != ' ' || i == 0 {
			continue
		}
		prev := text[:i]
		if strings.HasSuffix(prev, ".") || strings.HasSuffix(prev, "?") || strings.HasSuffix(prev, "…") {
			out = append(out, text[start:i])
			start = i + 1
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

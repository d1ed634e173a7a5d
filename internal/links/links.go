// Package links finds the web links in a message's plain text, so that the
// window shows them as links and everything around them as text
// (docs/richcontent.md, "Links in a message's text"). Only what is written
// as an absolute http or https URL becomes a link: a message never carries
// markup, and no other scheme (javascript:, data:, vbscript:, …) is ever
// a link, however it is spelled, since it is never looked for.
package links

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on what one text yields. Text beyond them stays text.
const (
	// MaxURL bounds a link, in bytes; a longer URL is shown as text.
	MaxURL = 2048
	// MaxLinks bounds the links of one text; the rest is shown as text.
	MaxLinks = 100
)

// Segment is a run of a text: plain text, or a link when URL is set.
type Segment struct {
	// Text is the run as written (a link's as the sender wrote its URL).
	Text string
	// URL is a link's target: Text with its scheme in lower case, an
	// absolute http or https URL with a host and no credentials. Empty
	// for plain text.
	URL string
}

// Split cuts text into plain runs and links, in order; joined, the
// segments' texts are text. It returns nil when text has no link (the
// caller shows it as it is).
func Split(text string) []Segment {
	var out []Segment
	done := 0 // text[:done] is in out
	for at, n := 0, 0; at < len(text) && n < MaxLinks; {
		start := nextScheme(text, at)
		if start < 0 {
			break
		}
		end := urlEnd(text, start)
		href, ok := check(text[start:end])
		if !ok {
			at = max(end, start+1)
			continue
		}
		if start > done {
			out = append(out, Segment{Text: text[done:start]})
		}
		out = append(out, Segment{Text: text[start:end], URL: href})
		done, at = end, end
		n++
	}
	if out == nil {
		return nil
	}
	if done < len(text) {
		out = append(out, Segment{Text: text[done:]})
	}
	return out
}

// nextScheme returns the index of the next "http://" or "https://" (in
// any case) at or after from that starts a word, or -1.
func nextScheme(text string, from int) int {
	for i := from; i < len(text); i++ {
		if c := text[i]; c != 'h' && c != 'H' {
			continue
		}
		if schemeLen(text[i:]) == 0 {
			continue
		}
		if i > 0 {
			// Not inside a word or another scheme ("xhttp://",
			// "git+https://").
			r, _ := utf8.DecodeLastRuneInString(text[:i])
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '+' || r == '-' || r == '.' || r == '_' {
				continue
			}
		}
		return i
	}
	return -1
}

// schemeLen is the length of the "http://" or "https://" s starts with
// (in any case), or 0.
func schemeLen(s string) int {
	for _, p := range []string{"http://", "https://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return len(p)
		}
	}
	return 0
}

// urlEnd returns where the URL that starts at text[start:] ends: after the
// longest run of characters a URL may hold, less the punctuation that
// rather ends the sentence around it.
func urlEnd(text string, start int) int {
	end := start + schemeLen(text[start:])
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		if !urlRune(r) {
			break
		}
		end += size
	}
	for end > start {
		u := text[start:end]
		switch last := u[len(u)-1]; {
		case strings.IndexByte(".,:;!?'*", last) >= 0:
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
		case last == ']' && strings.Count(u, "[") < strings.Count(u, "]"):
		default:
			return end
		}
		end--
	}
	return end
}

// urlRune reports the characters a URL is made of: RFC 3986's unreserved
// and reserved characters and %, and, for an internationalised one,
// letters, digits and combining marks of any script. Everything else (a
// space, a control or format character, quotes, angle brackets, a
// backslash, punctuation of other scripts) ends it.
func urlRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("-._~:/?#[]@!$&'()*+,;=%", r)
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// check returns the link's target for raw, a candidate URL, when it is an
// absolute http or https URL with a host that is a name or an IP address,
// a valid port if any, and no credentials ("https://bank.example@evil"
// reads as one host and goes to another).
func check(raw string) (string, bool) {
	if len(raw) > MaxURL {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || !validHost(u.Host) {
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	return scheme + raw[len(scheme):], true
}

// validHost reports a host (with its port, if any) that is an IP address
// or a name of labels of letters, digits and hyphens.
func validHost(hostport string) bool {
	host := hostport
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		addr, err := netip.ParseAddr(host[1:end])
		return err == nil && addr.Is6()
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if host == "" {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				return false
			}
		}
	}
	return true
}

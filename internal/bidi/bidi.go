// Package bidi neutralises the explicit direction controls of Unicode's
// bidirectional algorithm in text that one side of a conversation shows
// from the other: the embeddings and overrides U+202A–U+202E (LRE, RLE,
// PDF, LRO, RLO) and the isolates U+2066–U+2069 (LRI, RLI, FSI, PDI). With
// them a sender makes text read other than it is ("pay\u202Egnp.exe" shows
// as "payexe.png"). The window and the agent console strip them from every
// text they keep, and isolate each text when rendering it (dir="auto",
// <bdi>), so that no text reorders its neighbours.
//
// The implicit marks are kept: LRM and RLM (U+200E, U+200F) and ALM
// (U+061C) only give a strong direction at one point, cannot reorder a run
// of text, and are what people who write right to left type to place
// punctuation and numbers.
package bidi

import "strings"

// IsControl reports the explicit embeddings, overrides and isolates.
func IsControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// Strip returns s without its explicit direction controls; s itself when
// it has none (the usual case: no copy).
func Strip(s string) string {
	if strings.IndexFunc(s, IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if IsControl(r) {
			return -1
		}
		return r
	}, s)
}

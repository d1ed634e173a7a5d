package bidi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/bidi"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"empty", "", ""},
		{"override", "pay\u202Egnp.exe", "paygnp.exe"},
		{"every embedding and override", "a\u202Ab\u202Bc\u202Cd\u202De\u202Ef", "abcdef"},
		{"every isolate", "\u2066x\u2069 \u2067y\u2069 \u2068z\u2069", "x y z"},
		{"marks kept", "\u200Ea\u200Fb\u061Cc", "\u200Ea\u200Fb\u061Cc"},
		{"neighbours of the ranges kept", "\u2029\u202F\u2065\u206A", "\u2029\u202F\u2065\u206A"},
		{"right-to-left text kept", "שלום \u202Bעולם\u202C!", "שלום עולם!"},
		{"only controls", "\u202E\u2066\u2069", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, bidi.Strip(tt.in)); diff != "" {
				t.Errorf("Strip(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestIsControl(t *testing.T) {
	var got []rune
	for r := rune(0); r < 0x10000; r++ {
		if bidi.IsControl(r) {
			got = append(got, r)
		}
	}
	want := []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controls (-want +got):\n%s", diff)
	}
}

package filetype_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// TestSniff: each type is told by its bytes alone; a zip is a document only
// with its kind's main part, and bytes of no listed type are none.
func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		want string // "": none
	}{
		{"png", testfiles.PNG(4, 3), "PNG"},
		{"jpeg", testfiles.JPEG(4, 3), "JPG"},
		{"gif", testfiles.GIF(4, 3), "GIF"},
		{"pdf", testfiles.PDF("hello"), "PDF"},
		{"docx", testfiles.Office("word/document.xml"), "DOCX"},
		{"xlsx", testfiles.Office("xl/workbook.xml"), "XLSX"},
		{"pptx", testfiles.Office("ppt/presentation.xml"), "PPTX"},
		{"a zip", testfiles.Zip(), ""},
		{"a package of no kind", testfiles.Office(), ""},
		{"a package of two kinds", testfiles.Office("word/document.xml", "xl/workbook.xml"), ""},
		{"a docx part without content types", zipWithout(t), ""},
		{"a cut zip", testfiles.Office("word/document.xml")[:40], ""},
		{"html", []byte("<!DOCTYPE html><script>alert(1)</script>"), ""},
		{"text", []byte("just some words"), ""},
		{"webp", append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), make([]byte, 20)...), ""},
		{"empty", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := filetype.Sniff(tt.data)
			if ok != (tt.want != "") || got.Name != tt.want {
				t.Errorf("Sniff: %q %v, want %q", got.Name, ok, tt.want)
			}
			if tt.want != "" {
				want, _ := filetype.ByName(tt.want)
				if !want.Is(tt.data) {
					t.Errorf("%s.Is is false", tt.want)
				}
			}
		})
	}
}

func zipWithout(t *testing.T) []byte {
	t.Helper()
	// Office always writes [Content_Types].xml; this one is renamed away.
	return bytes.ReplaceAll(testfiles.Office("word/document.xml"), []byte("[Content_Types].xml"), []byte("(Content_Types).xml"))
}

// TestByName: the wire's names, JPEG as JPG, and nothing else (the wire is
// case sensitive).
func TestByName(t *testing.T) {
	var got []string
	for _, n := range []string{"JPG", "JPEG", "PNG", "GIF", "PDF", "DOCX", "XLSX", "PPTX", "png", "BMP", "TXT", "IMG", ""} {
		if ty, ok := filetype.ByName(n); ok {
			got = append(got, n+"="+ty.Name)
		}
	}
	want := []string{"JPG=JPG", "JPEG=JPG", "PNG=PNG", "GIF=GIF", "PDF=PDF", "DOCX=DOCX", "XLSX=XLSX", "PPTX=PPTX"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ByName (-want +got):\n%s", diff)
	}
	if got := filetype.Names(); got != "JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX" {
		t.Errorf("Names: %q", got)
	}
}

// TestCaption: a file's name as its caption: no path, no direction or
// control characters, at most 255 bytes cut between characters.
func TestCaption(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"receipt.png", "receipt.png"},
		{`C:\Users\me\receipt.png`, "receipt.png"},
		{"../../etc/passwd", "passwd"},
		{"pay\u202Egnp.exe", "paygnp.exe"},
		{"a\x00b\nc.pdf", "abc.pdf"},
		{"  spaced.pdf  ", "spaced.pdf"},
		{"\u202E", "file"},
		{"", "file"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	} {
		if got := filetype.Caption(tt.in); got != tt.want {
			t.Errorf("Caption(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

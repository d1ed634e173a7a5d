package views

import "strings"

// TextPart is a run of a message's text: plain text, or a link when URL is
// set (an http or https URL, internal/links; Text is the URL as written).
type TextPart struct {
	Text, URL string
}

// Kind says what a bubble holds (its data-kind): "card", "image" (a shared
// file that is an image), "file" or "text".
func (m Message) Kind() string {
	switch {
	case m.Card != nil:
		return "card"
	case m.File != nil && m.File.image():
		return "image"
	case m.File != nil:
		return "file"
	}
	return "text"
}

// image reports a file whose type names an image format (LivePerson names
// a shared file's type by its extension: PNG, JPEG, …).
func (f File) image() bool {
	switch strings.ToUpper(f.Type) {
	case "PNG", "JPEG", "JPG", "GIF", "WEBP":
		return true
	}
	return false
}

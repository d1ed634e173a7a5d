package views

import "context"

// File is a shared file's bubble (docs/protocol.md, Files): its caption
// and type, a thumbnail and the window's own download link.
type File struct {
	Caption string
	// Type is the file's type as the agent named it (PNG, JPEG, PDF…).
	Type string
	// Preview is a thumbnail data URL, already checked to be a small
	// image of a known type (the window's CSP allows data: images); empty:
	// none.
	Preview string
	// URL is the window's download link; Name the file name it suggests.
	URL, Name string
	// Image: a picture (its bubble is an image bubble); ViewURL, if set,
	// opens the whole picture.
	Image   bool
	ViewURL string
}

// Attach is the composer's file control (docs/protocol.md, Files): where
// the page posts a file, the types it takes (Accept, the input's accept
// list; Types, for people) and the largest size (Max bytes; MaxText, for
// people). The page checks a file against them before it posts it, and
// the server checks again. Fields, if any, names the composer form's
// fields that go with the file (the console's conversation and CSRF
// token).
type Attach struct {
	URL           string
	Accept, Types string
	Max           int64
	MaxText       string
	Fields        string
}

// attachFailed is what the page says when a file could not be sent and
// the server did not say why (no connection, a server error).
const attachFailed = "The file could not be sent."

// Kind is what a bubble holds, for its data-kind: image, file, card or
// text.
func (m Message) Kind() string {
	switch {
	case m.File != nil && m.File.Image:
		return "image"
	case m.File != nil:
		return "file"
	case m.Card != nil:
		return "card"
	}
	return "text"
}

// openLabel names the link that opens the whole picture.
func (f File) openLabel(ctx context.Context) string {
	if f.Caption != "" {
		return tf(ctx, "Open %s", f.Caption)
	}
	return t(ctx, "Open the picture")
}

// alt is the thumbnail's text alternative.
func (f File) alt(ctx context.Context) string {
	if f.Caption != "" {
		return tf(ctx, "Preview of %s", f.Caption)
	}
	return t(ctx, "Preview of the shared file")
}

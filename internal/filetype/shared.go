package filetype

import (
	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// MaxBytes is the largest shared file, fetched or sent: LivePerson's
// (File Sharing: "Each file can be up to 3MB").
const MaxBytes = 3 << 20

// Shared is a message's shared file as the window and the console show it
// (docs/protocol.md, Files). Caption and FileType hold no direction
// controls (internal/bidi); Preview is a thumbnail safe to show as it is
// (SafePreview), or "".
type Shared struct {
	Caption  string
	FileType string
	// RelativePath names the file at the messaging service: what a
	// download asks for.
	RelativePath string
	Preview      string
}

// FromHosted is the Shared of a hosted/file event.
func FromHosted(hf protocol.HostedFile) *Shared {
	return &Shared{
		Caption:      bidi.Strip(hf.Caption),
		FileType:     bidi.Strip(hf.FileType),
		RelativePath: hf.RelativePath,
		Preview:      SafePreview(hf.Preview),
	}
}

// Text is the file message's plain text (announcements, a list's last
// message, logs): its caption, or what it is.
func (f *Shared) Text() string {
	switch {
	case f.Caption != "":
		return f.Caption
	case f.FileType != "":
		return "A file (" + f.FileType + ")"
	}
	return "A file"
}

// Upload is a file a participant sends (the customer from the window, the
// agent from the console).
type Upload struct {
	// Name is the file's name, its caption (Caption).
	Name string
	// Type is what the bytes are, sniffed by the caller (Sniff).
	Type Type
	Data []byte
	// Preview is the page's thumbnail of an image, a data: URL; kept only
	// when SafePreview takes it.
	Preview string
}

// Package filetype names the file types that LivePerson's file sharing
// carries and tells them by their bytes (docs/protocol.md, Files): the
// images of the Messaging Window API's File Sharing (JPG, JPEG, PNG, GIF)
// and the documents of the Mobile App SDK's Photo and File Sharing (PDF,
// DOCX, XLSX, PPTX). The embedded service checks uploads with it, the
// window checks the customer's files before it uploads them, and both
// type what they serve by it. A type is believed only from the bytes: a
// name's extension or a browser's Content-Type says what someone claims.
package filetype

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatwindow/chatwindow/internal/bidi"
)

// Type is one file type as file sharing names it.
type Type struct {
	// Name is the fileType on the wire (GenerateURLForUploadFile's and
	// hosted/file's): JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX.
	Name string
	// MediaType is what its bytes are served as.
	MediaType string
	// Ext is the extension a file of the type is named with.
	Ext string
	// Image: a picture a browser shows (a preview is made of it).
	Image bool
	// part is, for the Office Open XML documents, the part only that
	// kind of package holds.
	part string
}

// The types, in the order they are listed to people.
var types = []Type{
	{Name: "JPG", MediaType: "image/jpeg", Ext: ".jpg", Image: true},
	{Name: "PNG", MediaType: "image/png", Ext: ".png", Image: true},
	{Name: "GIF", MediaType: "image/gif", Ext: ".gif", Image: true},
	{Name: "PDF", MediaType: "application/pdf", Ext: ".pdf"},
	{Name: "DOCX", MediaType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Ext: ".docx", part: "word/document.xml"},
	{Name: "XLSX", MediaType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Ext: ".xlsx", part: "xl/workbook.xml"},
	{Name: "PPTX", MediaType: "application/vnd.openxmlformats-officedocument.presentationml.presentation", Ext: ".pptx", part: "ppt/presentation.xml"},
}

// All returns the types, images first.
func All() []Type { return append([]Type(nil), types...) }

// ByName returns the type a fileType names, exactly as spelled on the
// wire; JPEG (the schema's and node-agent-sdk's other spelling) is JPG.
func ByName(name string) (Type, bool) {
	if name == "JPEG" {
		name = "JPG"
	}
	for _, t := range types {
		if t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// ByMediaType returns the type served as mediaType.
func ByMediaType(mediaType string) (Type, bool) {
	for _, t := range types {
		if t.MediaType == mediaType {
			return t, true
		}
	}
	return Type{}, false
}

// Sniff returns the type data is, if it is one of them.
func Sniff(data []byte) (Type, bool) {
	switch mt := http.DetectContentType(data); mt {
	case "application/zip":
		return sniffOOXML(data)
	default:
		return ByMediaType(mt)
	}
}

// Is reports whether data is of type t.
func (t Type) Is(data []byte) bool {
	got, ok := Sniff(data)
	return ok && got.Name == t.Name
}

// sniffOOXML tells a Word, Excel or PowerPoint document (an Office Open
// XML package: a zip with [Content_Types].xml and the kind's main part)
// from any other zip. Only the zip's directory is read, nothing inflated.
func sniffOOXML(data []byte) (Type, bool) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Type{}, false
	}
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		names[f.Name] = true
	}
	if !names["[Content_Types].xml"] {
		return Type{}, false
	}
	var found Type
	n := 0
	for _, t := range types {
		if t.part != "" && names[t.part] {
			found, n = t, n+1
		}
	}
	if n != 1 {
		return Type{}, false // a package claiming two kinds is neither
	}
	return found, true
}

// Names lists the types' names for people: "JPG, PNG, GIF, PDF, DOCX, XLSX
// or PPTX".
func Names() string {
	var b strings.Builder
	for i, t := range types {
		switch {
		case i == len(types)-1:
			b.WriteString(" or ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString(t.Name)
	}
	return b.String()
}

// MaxPreviewBytes bounds a shared file's preview (File Sharing: "the
// preview must be under 30KB").
const MaxPreviewBytes = 30 << 10

// previewTypes are the image types a preview may be shown as.
var previewTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// SafePreview returns p when it is a base64 data URL of a PNG, JPEG, GIF
// or WebP image of at most MaxPreviewBytes whose bytes are that image
// type, and "" for anything else: pages show it as an img src (their CSP
// allows data: images), so nothing but a small image of a known type may
// get there.
func SafePreview(p string) string {
	if len(p) > MaxPreviewBytes {
		return ""
	}
	rest, ok := strings.CutPrefix(p, "data:")
	if !ok {
		return ""
	}
	mediaType, data, ok := strings.Cut(rest, ";base64,")
	if !ok || !previewTypes[mediaType] {
		return ""
	}
	b, err := base64.StdEncoding.Strict().DecodeString(data)
	if err != nil || len(b) == 0 || http.DetectContentType(b) != mediaType {
		return ""
	}
	return p
}

// MaxCaptionBytes bounds a file's name kept as its caption [ours].
const MaxCaptionBytes = 255

// Caption is a file's name as its caption: without direction controls
// (internal/bidi), control characters and any path, trimmed, at most
// MaxCaptionBytes (cut between characters); "file" when nothing is left.
func Caption(name string) string {
	name = bidi.Strip(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name))
	for len(name) > MaxCaptionBytes {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" {
		return "file"
	}
	return name
}

package imageproxy

import (
	"bytes"
	"encoding/binary"
	"net/http"
)

// Types are the media types the proxy passes on: raster images a browser
// shows and cannot run. SVG is not among them (it can carry script and
// links), nor is anything a browser might render as a document.
var Types = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"}

// sniff names body's type by its first bytes, whatever the remote said:
// one of Types, or "" for anything else.
func sniff(body []byte) string {
	if isAVIF(body) {
		return "image/avif"
	}
	switch ct := http.DetectContentType(body); ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return ct
	}
	return ""
}

// isAVIF reads an ISO base media file's leading ftyp box: AVIF when its
// major or a compatible brand is avif (a still image) or avis (a
// sequence). http.DetectContentType does not know AVIF.
func isAVIF(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size < 16 || size > len(b) || size > 512 || size%4 != 0 {
		return false
	}
	for _, off := range append([]int{8}, brandOffsets(size)...) {
		brand := b[off : off+4]
		if bytes.Equal(brand, []byte("avif")) || bytes.Equal(brand, []byte("avis")) {
			return true
		}
	}
	return false
}

// brandOffsets are the compatible brands' offsets in an ftyp box of size
// bytes (after the major brand and its version).
func brandOffsets(size int) []int {
	var out []int
	for off := 16; off+4 <= size; off += 4 {
		out = append(out, off)
	}
	return out
}

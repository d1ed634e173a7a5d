package views

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
}

// alt is the thumbnail's text alternative.
func (f File) alt() string {
	if f.Caption != "" {
		return "Preview of " + f.Caption
	}
	return "Preview of the shared file"
}

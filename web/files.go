package web

import (
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/views"
)

// Shared files, as the window and the console serve them (docs/protocol.md,
// Files): a page links a file to its own route with the file's
// relativePath, the server fetches the bytes from the storage with its
// session's identity, and answers them itself.

// storagePath is what a relativePath may look like: the storage's paths
// (/v1/AUTH_async-images/{account}/{name}.{TYPE}, with LivePerson's
// "_uuid_…_17-04-2018_09-37-15-082" names) and nothing that could mean
// something else in a URL.
var storagePath = regexp.MustCompile(`^/[A-Za-z0-9/_.-]{1,511}$`)

// ValidStoragePath reports whether p may be asked for (storagePath, and no
// "..").
func ValidStoragePath(p string) bool {
	return storagePath.MatchString(p) && !strings.Contains(p, "..") && !strings.Contains(p, "//")
}

// StorageFileName is the name a download suggests: the path's last part.
func StorageFileName(p string) string {
	if !ValidStoragePath(p) {
		return "file"
	}
	return path.Base(p)
}

// ServeFile answers a shared file's bytes as a file alone, inert if
// opened as a page: typed as what the storage said (contentType) only
// when the bytes are that type (filetype), else
// application/octet-stream; an attachment named name, unless view asks to
// show a picture (inline: its bytes are that picture, and nosniff with
// the sandbox keep them one).
func ServeFile(c echo.Context, name, contentType string, data []byte, view bool) error {
	h := c.Response().Header()
	ct, disposition := "application/octet-stream", "attachment"
	mt, _, _ := mime.ParseMediaType(contentType)
	if t, ok := filetype.ByMediaType(mt); ok && t.Is(data) {
		ct = t.MediaType
		if view && t.Image {
			disposition = "inline"
		}
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	return c.Blob(http.StatusOK, ct, data)
}

// FileHeaders are the headers of every answer of a file route, the
// refusals included.
func FileHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, no-store")
}

// ViewParam asks a file route to show a picture rather than save it.
const ViewParam = "view"

// FileBubble is the bubble of a shared file whose bytes the page gets at
// route?p=relativePath: a picture's (a type file sharing names as an
// image, or HostedFile's IMG) thumbnail opens it at route too. caption
// and fileType hold no direction controls; preview is safe to show
// (filetype.SafePreview).
func FileBubble(route, caption, fileType, relativePath, preview string) views.File {
	link := route + "?p=" + url.QueryEscape(relativePath)
	f := views.File{Caption: caption, Type: fileType, Preview: preview, URL: link, Name: StorageFileName(relativePath)}
	if t, ok := filetype.ByName(fileType); ok && t.Image || fileType == "IMG" {
		f.Image = true
		f.ViewURL = link + "&" + ViewParam + "=1"
	}
	return f
}

// AttachControl is a composer's file control posting to route files up to
// max bytes of the types of internal/filetype (by extension and media
// type, for the file picker).
func AttachControl(route string, max int64) views.Attach {
	var accept []string
	for _, t := range filetype.All() {
		accept = append(accept, t.Ext, t.MediaType)
		if t.Name == "JPG" {
			accept = append(accept, ".jpeg")
		}
	}
	return views.Attach{URL: route, Accept: strings.Join(accept, ","), Types: filetype.Names(), Max: max, MaxText: HumanSize(max)}
}

// Package static embeds the page's assets: vendored htmx and its WebSocket
// extension (pinned, see the Makefile's htmx target), chat.js and chat.css,
// and the scripts of a window on a brand's site (embed.js, frame.js,
// brand.css; docs/embedding.md) and of the demo site (demo.js, demo.css).
// Each is served under a content-hashed name so it can be cached forever, and
// gzipped once at load to browsers that take it (the budget of 30 KiB of
// JavaScript in docs/performance.md is counted as shipped: gzipped).
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

//go:embed chat.js signin.js upload.js chat.css qa.js qa.css console.css demo-card.svg vendor/*.js
//go:embed embed.js embed.css frame.js brand.css demo.js demo.css
var files embed.FS

// The vendored scripts' names; the Makefile's htmx target fetches them.
const (
	HTMX   = "vendor/htmx-2.0.11.min.js"
	HTMXWS = "vendor/htmx-ext-ws-2.0.4.min.js"
)

// Asset is one embedded file and its immutable URL name.
type Asset struct {
	// Name is the file's path in the package, e.g. "chat.js".
	Name string
	// Hashed is the name with a content hash, e.g. "chat.3f2a9c1b.js".
	Hashed string
	// Body is the file's content.
	Body []byte
	// ContentType is the file's media type.
	ContentType string
	// Gzipped is Body gzipped (best compression), or nil when that would
	// not make it smaller.
	Gzipped []byte
}

// Assets indexes the embedded files by plain and hashed name.
type Assets struct {
	byName   map[string]*Asset
	byHashed map[string]*Asset
}

// Load reads and hashes every embedded file.
func Load() (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}, byHashed: map[string]*Asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if stripped[p] {
			body = Strip(body)
		}
		asset, err := Generated(p, body, contentType(path.Ext(p)))
		if err != nil {
			return err
		}
		a.byName[p] = asset
		a.byHashed[asset.Hashed] = asset
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	return a, nil
}

// stripped are the scripts served without their comments and indentation
// (Strip): everything a page of the window or a brand ships of our own
// (docs/embedding.md, budget).
var stripped = map[string]bool{"embed.js": true, "frame.js": true, "chat.js": true, "signin.js": true, "upload.js": true}

// Strip removes a script's line comments and indentation: every line that
// is empty or a // comment once its leading blanks are gone, and those
// blanks. It is for scripts written so that no line inside a string,
// template or regular expression starts with //; comments after code and
// /* */ comments stay.
func Strip(js []byte) []byte {
	var out []byte
	for line := range bytes.Lines(js) {
		line = bytes.TrimLeft(line, " \t")
		if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte("//")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// Generated is an asset made at start-up rather than embedded (the brand's
// stylesheet and logo, embed.js with the window's settings): named with a
// hash of body and gzipped, as the embedded ones are.
func Generated(name string, body []byte, contentType string) (*Asset, error) {
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:12] + ext
	asset := &Asset{Name: name, Hashed: hashed, Body: body, ContentType: contentType}
	var err error
	if asset.Gzipped, err = gzipped(body); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	return asset, nil
}

// Hashed returns the hashed name of a file, e.g. for a URL in the page.
func (a *Assets) Hashed(name string) string {
	if as, ok := a.byName[name]; ok {
		return as.Hashed
	}
	return name
}

// Lookup finds a file by its hashed name.
func (a *Assets) Lookup(hashed string) (*Asset, bool) {
	as, ok := a.byHashed[hashed]
	return as, ok
}

func contentType(ext string) string {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// gzipped compresses b, or returns nil when that saves nothing.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(b) {
		return nil, nil
	}
	return buf.Bytes(), nil
}

package simulator

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/chatwindow/chatwindow/internal/filetype"
)

// The storage the signed URLs point to (docs/simulator.md, Files): the
// shape of File Sharing's Steps 4 and 7, PUT and GET
// {swift}{relativePath}?temp_url_sig=…&temp_url_expires=…, served on the
// service's own listener (the domain API lists it as swift, at the
// request's own host).

// errTempURL is a temporary URL that does not let its bearer in: File
// Sharing, Step 4, "401 Temp URL invalid".
var errTempURL = errors.New("temp URL invalid")

// checkTempURL checks the request's signature and expiry for its method
// (HEAD reads like GET) on the Now clock.
func (s *Service) checkTempURL(r *http.Request, method string) error {
	q := r.URL.Query()
	sig, exp := q.Get("temp_url_sig"), q.Get("temp_url_expires")
	if sig == "" || exp == "" {
		return fmt.Errorf("%w: temp_url_sig and temp_url_expires are required", errTempURL)
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: temp_url_expires is not a time", errTempURL)
	}
	if !hmac.Equal([]byte(sig), []byte(s.files.sign(method, r.URL.Path, expires))) {
		return fmt.Errorf("%w: signature", errTempURL)
	}
	if s.cfg.Now().Unix() >= expires {
		return fmt.Errorf("%w: expired", errTempURL)
	}
	return nil
}

// storageError answers in plain text, as object storage does.
func storageError(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text+"\n")
}

// handleFilePut stores an upload: a valid upload URL of a path not shared
// yet, exactly the announced size, bytes of the announced type (sniffed;
// a Content-Type header other than that type or application/octet-stream
// is refused too), room in the store. 201 Created, as File Sharing says.
func (s *Service) handleFilePut(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("account") != s.cfg.Account {
		storageError(w, http.StatusUnauthorized, "unknown account")
		return
	}
	if err := s.checkTempURL(r, http.MethodPut); err != nil {
		storageError(w, http.StatusUnauthorized, err.Error())
		return
	}
	fs := s.files
	path := r.URL.Path
	fs.mu.Lock()
	f := fs.files[path]
	var size int64
	var fileType string
	shared := f != nil && f.shared
	if f != nil {
		size, fileType = f.size, f.fileType
	}
	fs.mu.Unlock()
	switch {
	case f == nil:
		storageError(w, http.StatusNotFound, "no upload waits at this path")
		return
	case shared:
		storageError(w, http.StatusConflict, "the file was shared: it cannot change")
		return
	}
	want, _ := filetype.ByName(fileType) // checked when the URL was issued
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != want.MediaType && mt != "application/octet-stream" {
			storageError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: this upload is a %s (%s)", ct, fileType, want.MediaType))
			return
		}
	}
	if r.ContentLength > size {
		storageError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d bytes: the upload URL was made for %d", r.ContentLength, size))
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, size+1))
	if err != nil {
		storageError(w, http.StatusBadRequest, "read the upload: "+err.Error())
		return
	}
	switch n := int64(len(data)); {
	case n > size:
		storageError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d bytes: the upload URL was made for %d", size, size))
		return
	case n < size:
		storageError(w, http.StatusBadRequest, fmt.Sprintf("%d bytes: the upload URL was made for %d", n, size))
		return
	}
	if !want.Is(data) {
		storageError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("the bytes are %s, not a %s", http.DetectContentType(data), fileType))
		return
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.files[path] != f || f.shared {
		storageError(w, http.StatusConflict, "the upload URL was used meanwhile")
		return
	}
	if fs.used-int64(len(f.data))+size > fs.limit {
		storageError(w, http.StatusInsufficientStorage, fmt.Sprintf("the storage is full (%d bytes)", fs.limit))
		return
	}
	fs.used += size - int64(len(f.data))
	f.data = data
	s.log.Debug("file uploaded", "path", path, "bytes", size)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
}

// handleFileGet serves a stored file to a valid download URL, typed as
// its fileType.
func (s *Service) handleFileGet(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("account") != s.cfg.Account {
		storageError(w, http.StatusUnauthorized, "unknown account")
		return
	}
	if err := s.checkTempURL(r, http.MethodGet); err != nil {
		storageError(w, http.StatusUnauthorized, err.Error())
		return
	}
	s.files.mu.Lock()
	f := s.files.files[r.URL.Path]
	var data []byte
	var fileType string
	if f != nil {
		data, fileType = f.data, f.fileType
	}
	s.files.mu.Unlock()
	if data == nil {
		storageError(w, http.StatusNotFound, "no file at this path")
		return
	}
	h := w.Header()
	t, _ := filetype.ByName(fileType)
	h.Set("Content-Type", t.MediaType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

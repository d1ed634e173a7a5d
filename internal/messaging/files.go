package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// File sharing (docs/protocol.md, Files): a signed URL of the file storage
// is asked for on the socket, the bytes go there over HTTP, and the file is
// shared as a hosted/file ContentEvent naming its relativePath.

// ErrNoStorage is wrapped when the endpoints have no file storage host
// (the domain API listed no swift).
var ErrNoStorage = errors.New("the domain API lists no file storage (swift)")

// StorageURL is a signed URL of the file storage, for one method: PUT for
// an upload URL, GET for a download URL.
type StorageURL struct {
	protocol.GenerateURLResponse
	// URL is {scheme}://{swift}{relativePath}?temp_url_sig=…&temp_url_expires=…
	// (File Sharing, Steps 4 and 7).
	URL string
	// Expires is when the URL stops working (temp_url_expires).
	Expires time.Time
}

// storageURL builds the storage URL of an answer.
func (ep Endpoints) storageURL(r protocol.GenerateURLResponse) (StorageURL, error) {
	if ep.Swift == "" {
		return StorageURL{}, ErrNoStorage
	}
	if r.RelativePath == "" || r.RelativePath[0] != '/' || r.QueryParams.TempURLSig == "" {
		return StorageURL{}, fmt.Errorf("the answer %+v is not a signed storage path", r)
	}
	exp, err := strconv.ParseInt(string(r.QueryParams.TempURLExpires), 10, 64)
	if err != nil {
		return StorageURL{}, fmt.Errorf("temp_url_expires %q: %w", r.QueryParams.TempURLExpires, err)
	}
	q := url.Values{"temp_url_sig": {r.QueryParams.TempURLSig}, "temp_url_expires": {string(r.QueryParams.TempURLExpires)}}
	u := ep.httpURL(ep.Swift, r.RelativePath, q)
	return StorageURL{GenerateURLResponse: r, URL: u, Expires: time.Unix(exp, 0)}, nil
}

// generateURL asks on the socket for a storage URL.
func generateURL(ctx context.Context, s *session, ep Endpoints, typ string, body any) (StorageURL, error) {
	var resp protocol.GenerateURLResponse
	if err := s.request(ctx, typ, body, &resp); err != nil {
		return StorageURL{}, err
	}
	u, err := ep.storageURL(resp)
	if err != nil {
		return StorageURL{}, fmt.Errorf("%s: %w", typ, err)
	}
	return u, nil
}

// GenerateUploadURL asks for an upload URL for a file of size bytes and a
// fileType of JPG, JPEG, PNG or GIF (File Sharing, Step 3).
func (c *Consumer) GenerateUploadURL(ctx context.Context, size int64, fileType string) (StorageURL, error) {
	body := protocol.GenerateURLForUploadFile{FileSize: protocol.ID(strconv.FormatInt(size, 10)), FileType: fileType}
	return generateURL(ctx, c.session, c.cfg.Endpoints, protocol.TypeGenerateURLForUploadFile, body)
}

// GenerateDownloadURL asks for a download URL of a shared file (File
// Sharing, Step 6).
func (c *Consumer) GenerateDownloadURL(ctx context.Context, relativePath string) (StorageURL, error) {
	body := protocol.GenerateURLForDownloadFile{RelativePath: relativePath}
	return generateURL(ctx, c.session, c.cfg.Endpoints, protocol.TypeGenerateURLForDownloadFile, body)
}

// GenerateUploadURL asks for an upload URL on the agent socket
// (node-agent-sdk's generateURLForUploadFile).
func (a *Agent) GenerateUploadURL(ctx context.Context, size int64, fileType string) (StorageURL, error) {
	body := protocol.GenerateURLForUploadFile{FileSize: protocol.ID(strconv.FormatInt(size, 10)), FileType: fileType}
	return generateURL(ctx, a.session, a.cfg.Endpoints, qualified(protocol.TypeGenerateURLForUploadFile), body)
}

// GenerateDownloadURL asks for a download URL on the agent socket
// (node-agent-sdk's generateURLForDownloadFile).
func (a *Agent) GenerateDownloadURL(ctx context.Context, relativePath string) (StorageURL, error) {
	body := protocol.GenerateURLForDownloadFile{RelativePath: relativePath}
	return generateURL(ctx, a.session, a.cfg.Endpoints, qualified(protocol.TypeGenerateURLForDownloadFile), body)
}

// Upload PUTs a file's bytes to an upload URL (File Sharing, Step 4: 201
// Created; 401 for an invalid or expired URL). contentType may be empty.
func Upload(ctx context.Context, hc *http.Client, u StorageURL, contentType string, data []byte) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.URL, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("upload %s: %w", u.RelativePath, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s: %w", u.RelativePath, withoutURL(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Op: "upload", URL: u.RelativePath, StatusCode: resp.StatusCode, Text: string(bytes.TrimSpace(b)), RetryAfter: retryAfter(resp.Header)}
	}
	return nil
}

// File is a downloaded file.
type File struct {
	// ContentType is the storage's Content-Type header, as sent.
	ContentType string
	Data        []byte
}

// ErrFileTooLarge is wrapped by Download for a file over its limit.
var ErrFileTooLarge = errors.New("file over the size limit")

// Download GETs a file from a download URL (File Sharing, Step 7),
// refusing more than limit bytes. Errors name the relativePath, never the
// signed URL.
func Download(ctx context.Context, hc *http.Client, u StorageURL, limit int64) (File, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		return File{}, fmt.Errorf("download %s: %w", u.RelativePath, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return File{}, fmt.Errorf("download %s: %w", u.RelativePath, withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return File{}, &StatusError{Op: "download", URL: u.RelativePath, StatusCode: resp.StatusCode, Text: string(bytes.TrimSpace(b)), RetryAfter: retryAfter(resp.Header)}
	}
	if resp.ContentLength > limit {
		return File{}, fmt.Errorf("download %s: %d bytes: %w", u.RelativePath, resp.ContentLength, ErrFileTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return File{}, fmt.Errorf("download %s: %w", u.RelativePath, err)
	}
	if int64(len(data)) > limit {
		return File{}, fmt.Errorf("download %s: over %d bytes: %w", u.RelativePath, limit, ErrFileTooLarge)
	}
	return File{ContentType: resp.Header.Get("Content-Type"), Data: data}, nil
}

// withoutURL drops the URL from a client error: a signed URL is a
// credential for its lifetime, and errors end up in logs.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"

	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// consoleUpload posts a file form to the console as a page of origin
// would ("none": no Origin).
func consoleUpload(t *testing.T, hc *http.Client, site, origin string, fields map[string]string, name string, data []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if name != "" {
		w, _ := mw.CreateFormFile("file", name)
		w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, site+"/agent/upload", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "none" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestConsoleFileRefusals: the console's /agent/upload takes a file only
// from its own page, for a signed-in agent's open conversation, of a type
// and size file sharing carries; /agent/file serves only files of the
// desk's conversations. Each refusal says why.
func TestConsoleFileRefusals(t *testing.T) {
	site := newConsoleSite(t)
	hc := client(t)
	signIn(t, site, hc)
	stranger := client(t)
	img := testfiles.PNG(4, 4)
	conv := map[string]string{"conversationId": "not-a-conversation"}
	for _, tt := range []struct {
		name   string
		hc     *http.Client
		origin string
		fields map[string]string
		file   string
		data   []byte
		code   int
		text   string
	}{
		{"another site's page", hc, "http://evil.example", conv, "a.png", img, 403, "This page may not connect here."},
		{"no Origin", hc, "none", conv, "a.png", img, 403, "This page may not connect here."},
		{"signed out", stranger, site.URL, conv, "a.png", img, 403, "You are signed out. Sign in again to send files."},
		{"no conversation of the agent's", hc, site.URL, conv, "a.png", img, 409, "This conversation is not open."},
		{"a type file sharing does not carry", hc, site.URL, conv, "x.html", []byte("<!DOCTYPE html><p>hi"), 415, "Only JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX files can be sent."},
		{"too large", hc, site.URL, conv, "big.png", append(bytes.Clone(img), make([]byte, 3<<20)...), 413, "This file is larger than 3 MB."},
		{"no file", hc, site.URL, conv, "", nil, 400, "The upload was not a file."},
		{"an unknown field", hc, site.URL, map[string]string{"csrf": "x"}, "a.png", img, 400, "The upload was not a file."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, text := consoleUpload(t, tt.hc, site.URL, tt.origin, tt.fields, tt.file, tt.data)
			if code != tt.code || text != tt.text {
				t.Errorf("%d %q, want %d %q", code, text, tt.code, tt.text)
			}
		})
	}
	for name, c := range map[string]*http.Client{"a path of no conversation": hc, "signed out": stranger} {
		resp, body := get(t, c, site.URL+"/agent/file?p="+url.QueryEscape("/v1/AUTH_async-images/1/x.PNG"))
		if resp.StatusCode != http.StatusNotFound || body != "This file is not available." || resp.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
			t.Errorf("%s: %s %q", name, resp.Status, body)
		}
	}
}

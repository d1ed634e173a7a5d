package node_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
	"github.com/chatwindow/chatwindow/web/window"
)

// part is one part of an upload form.
type part struct {
	name, filename, contentType string
	data                        []byte
}

// form encodes parts as multipart/form-data.
func form(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

// post posts an upload as a page of origin would ("none": no Origin sent)
// with the client's cookies; it returns the status and the answer.
func (w *fileWorld) post(t *testing.T, hc *http.Client, origin, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/upload", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if origin != "none" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *fileWorld) customer() *http.Client {
	return &http.Client{Jar: w.tab.Jar(), Timeout: testenv.WaitLimit}
}

// hostedFiles counts the dialog's hosted/file events.
func (w *fileWorld) hostedFiles() []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, e := range w.lp.Svc.DialogEvents(w.convID) {
		if e.Event.File != nil {
			out = append(out, e)
		}
	}
	return out
}

// TestUpload: the customer's file posted to the window's /upload is
// published exactly once as a hosted/file event, with its name, its type by
// its bytes and the page's preview; the agent downloads the very bytes; the
// answer names the bubble that the customer's tab now shows, an image
// bubble of theirs.
func TestUpload(t *testing.T) {
	w := newFileWorld(t, window.Config{})
	img := testfiles.PNG(30, 20)
	preview := "data:image/png;base64," + base64.StdEncoding.EncodeToString(testfiles.PNG(6, 4))
	ct, body := form(t, part{name: "preview", data: []byte(preview)},
		part{name: "file", filename: "receipt.png", contentType: "application/octet-stream", data: img})
	code, answer := w.post(t, w.customer(), w.srv.URL, ct, body)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, answer)
	}
	var a struct{ ID string }
	if err := json.Unmarshal([]byte(answer), &a); err != nil || !strings.HasPrefix(a.ID, "l-") {
		t.Fatalf("the answer %s names no bubble (%v)", answer, err)
	}
	// The answer comes once the file shows; its publish goes on.
	if _, err := w.tab.WaitFor(t.Context(), func(v pageclient.View) bool {
		for _, m := range v.Messages {
			if m.ID == a.ID && m.Kind == "image" && m.From == "consumer" && m.HasSeq {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the customer's image bubble %s: %v", a.ID, err)
	}

	files := w.hostedFiles()
	if len(files) != 1 {
		t.Fatalf("%d hosted files published, want 1", len(files))
	}
	hf := *files[0].Event.File
	if hf.Caption != "receipt.png" || hf.FileType != "PNG" || hf.Preview != preview {
		t.Errorf("published %+v", hf)
	}
	u, err := w.agent.GenerateDownloadURL(t.Context(), hf.RelativePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := messaging.Download(t.Context(), w.lp.Srv.Client(), u, relay.MaxFileBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, img) {
		t.Errorf("the agent downloaded %d bytes, not the %d posted", len(got.Data), len(img))
	}

	resp, err := w.customer().Get(w.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	in := doc.Find(`#composer-form input[type="file"][data-testid="attach"]`)
	if in.AttrOr("data-upload", "") != "/upload" || in.AttrOr("data-max", "") != "3145728" ||
		!strings.Contains(in.AttrOr("accept", ""), ".docx") || in.AttrOr("data-bad-size", "") != "This file is empty or larger than 3 MB." {
		html, _ := goquery.OuterHtml(in)
		t.Errorf("the attach control: %s", html)
	}
	if doc.Find(`script[src*="/static/upload."]`).Length() != 1 {
		t.Error("the page does not load upload.js")
	}

	// Its thumbnail opens the whole picture through the window, shown
	// rather than saved; its Download link saves it.
	resp, err = w.customer().Get(w.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	doc, err = goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	bubble := doc.Find(`[data-testid="message"][data-kind="image"][data-from="consumer"]`)
	for sel, disposition := range map[string]string{`[data-testid="file-open"]`: "inline", `[data-testid="file-download"]`: "attachment"} {
		href := bubble.Find(sel).AttrOr("href", "")
		resp, err := w.customer().Get(w.srv.URL + href)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cd := resp.Header.Get("Content-Disposition")
		if resp.StatusCode != 200 || !bytes.Equal(b, img) || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(cd, disposition+";") {
			t.Errorf("%s %s: %s %s %q, %d bytes", sel, href, resp.Status, resp.Header.Get("Content-Type"), cd, len(b))
		}
	}
}

// TestUploadRefusals: what /upload refuses, each with a text that says
// why, and nothing published.
func TestUploadRefusals(t *testing.T) {
	w := newFileWorld(t, window.Config{MaxUpload: 64 << 10})
	img := testfiles.PNG(8, 8)
	ok := func() (string, []byte) { return form(t, part{name: "file", filename: "a.png", data: img}) }
	stranger := &http.Client{Timeout: testenv.WaitLimit}
	for _, tt := range []struct {
		name   string
		hc     *http.Client
		origin string
		body   func() (string, []byte)
		code   int
		text   string
	}{
		{"too big", nil, "", func() (string, []byte) {
			return form(t, part{name: "file", filename: "big.png", data: append(bytes.Clone(img), make([]byte, 64<<10)...)})
		}, 413, "This file is larger than 64 KB."},
		{"too big to read", nil, "", func() (string, []byte) {
			return form(t, part{name: "file", filename: "big.png", data: make([]byte, 200<<10)})
		}, 413, "This file is larger than 64 KB."},
		{"a type file sharing does not carry", nil, "", func() (string, []byte) {
			return form(t, part{name: "file", filename: "page.html", data: []byte("<!DOCTYPE html><script>alert(1)</script>")})
		}, 415, "Only JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX files can be sent."},
		{"a zip named .docx", nil, "", func() (string, []byte) {
			return form(t, part{name: "file", filename: "report.docx", data: testfiles.Zip()})
		}, 415, "Only JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX files can be sent."},
		{"another site's page", nil, "http://evil.example", ok, 403, "This page may not connect here."},
		{"no page at all (no Origin)", nil, "none", ok, 403, "This page may not connect here."},
		{"no session", stranger, "", ok, 403, "There is no conversation to send this file to. Reload the page."},
		{"not multipart", nil, "", func() (string, []byte) { return "application/json", []byte(`{"file":"x"}`) }, 400, "The upload was not a file."},
		{"a cut form", nil, "", func() (string, []byte) {
			ct, b := ok()
			return ct, b[:len(b)-20]
		}, 400, "The upload was not a file."},
		{"no file part", nil, "", func() (string, []byte) { return form(t, part{name: "preview", data: []byte("data:,")}) }, 400, "The upload was not a file."},
		{"two files", nil, "", func() (string, []byte) {
			return form(t, part{name: "file", filename: "a.png", data: img}, part{name: "file", filename: "b.png", data: img})
		}, 400, "The upload was not a file."},
		{"an empty file", nil, "", func() (string, []byte) { return form(t, part{name: "file", filename: "a.png"}) }, 400, "The upload was not a file."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hc := tt.hc
			if hc == nil {
				hc = w.customer()
			}
			origin := tt.origin
			if origin == "" {
				origin = w.srv.URL
			}
			ct, body := tt.body()
			code, text := w.post(t, hc, origin, ct, body)
			if code != tt.code || text != tt.text {
				t.Errorf("%d %q, want %d %q", code, text, tt.code, tt.text)
			}
		})
	}
	if n := len(w.hostedFiles()); n != 0 {
		t.Errorf("%d hosted files published after refusals", n)
	}
	for _, m := range w.tab.Messages() {
		if m.Kind == "image" || m.Kind == "file" {
			t.Errorf("a refused file shows: %+v", m)
		}
	}
}

// TestUploadRateLimit: one client address sends so many files (here one,
// then one every 1000 s); more are answered 429 with Retry-After, and not
// published.
func TestUploadRateLimit(t *testing.T) {
	w := newFileWorld(t, window.Config{UploadBurst: 1, UploadRate: 0.001})
	ct, body := form(t, part{name: "file", filename: "a.png", data: testfiles.PNG(4, 4)})
	if code, text := w.post(t, w.customer(), w.srv.URL, ct, body); code != http.StatusCreated {
		t.Fatalf("the first file: %d %q", code, text)
	}
	if code, text := w.post(t, w.customer(), w.srv.URL, ct, body); code != http.StatusTooManyRequests || text != "Too many files at once. Please wait a minute." {
		t.Errorf("the second file: %d %q, want 429", code, text)
	}
	// The first file's publish goes on after its answer.
	deadline := time.Now().Add(testenv.WaitLimit)
	for len(w.hostedFiles()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(w.hostedFiles()); n != 1 {
		t.Errorf("%d hosted files published, want 1", n)
	}
}

// TestUploadOff: with files turned off (a negative MaxUpload) the window
// offers no attach control and /upload answers 404.
func TestUploadOff(t *testing.T) {
	w := newFileWorld(t, window.Config{MaxUpload: -1})
	ct, body := form(t, part{name: "file", filename: "a.png", data: testfiles.PNG(4, 4)})
	if code, text := w.post(t, w.customer(), w.srv.URL, ct, body); code != http.StatusNotFound || text != "Files cannot be sent here." {
		t.Errorf("upload: %d %q, want 404", code, text)
	}
	resp, err := w.customer().Get(w.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if bytes.Contains(page, []byte(`data-testid="attach"`)) || bytes.Contains(page, []byte("upload.")) {
		t.Error("the page offers files")
	}
}

package simulator

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The refusals of file sharing, and the store's bound (docs/simulator.md,
// Files); the flow itself is files_test.go.

// TestGenerateUploadURLRefusals: the file types and sizes file sharing
// allows (File Sharing's JPG, JPEG, PNG, GIF, and Photo and File
// Sharing's PDF, DOCX, XLSX, PPTX; up to 3 MB), anything else 400.
func TestGenerateUploadURLRefusals(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	for _, tt := range []struct {
		name, body string
		code       int
	}{
		{"schema's string size", `{"fileSize":"1024","fileType":"JPG"}`, 200},
		{"tutorial's number size", `{"fileSize":1000,"fileType":"PNG"}`, 200},
		{"gif at 3 MB", `{"fileSize":3145728,"fileType":"GIF"}`, 200},
		{"jpeg", `{"fileSize":5020,"fileType":"JPEG"}`, 200},
		{"over 3 MB", `{"fileSize":3145729,"fileType":"GIF"}`, 400},
		{"zero", `{"fileSize":0,"fileType":"PNG"}`, 400},
		{"negative", `{"fileSize":"-5","fileType":"PNG"}`, 400},
		{"not a number", `{"fileSize":"big","fileType":"PNG"}`, 400},
		{"no size", `{"fileType":"PNG"}`, 400},
		{"bmp", `{"fileSize":10,"fileType":"BMP"}`, 400},
		{"pdf", `{"fileSize":10,"fileType":"PDF"}`, 200},
		{"docx", `{"fileSize":10,"fileType":"DOCX"}`, 200},
		{"xlsx", `{"fileSize":10,"fileType":"XLSX"}`, 200},
		{"pptx", `{"fileSize":10,"fileType":"PPTX"}`, 200},
		{"txt is shared, not uploaded", `{"fileSize":10,"fileType":"TXT"}`, 400},
		{"doc", `{"fileSize":10,"fileType":"DOC"}`, 400},
		{"lower case", `{"fileSize":10,"fileType":"png"}`, 400},
		{"no type", `{"fileSize":10}`, 400},
		{"not an object", `"x"`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cons.sendRaw(`{"kind":"req","id":"g","type":"ms.GenerateURLForUploadFile","body":` + tt.body + `}`)
			if r := cons.resp("g"); r.Code != tt.code || (tt.code != 200) != (r.Type == "") {
				t.Errorf("%s: %d %q %s, want %d", tt.body, r.Code, r.Type, r.Body, tt.code)
			}
		})
	}
}

// TestUploadRefusals: the storage takes only what the upload URL was made
// for: its signature, before its expiry, of its path and method, exactly
// the announced size, bytes of the announced type; a refusal stores
// nothing.
func TestUploadRefusals(t *testing.T) {
	img := pngBytes(t, 8, 8)
	for _, tt := range []struct {
		name string
		// url alters the upload URL; before runs first.
		url         func(e *env, u protocol.GenerateURLResponse) string
		before      func(e *env)
		contentType string
		body        []byte
		code        int
	}{
		{name: "expired", before: func(e *env) { e.clock.Advance(time.Minute) }, code: 401},
		{name: "forged signature", url: func(e *env, u protocol.GenerateURLResponse) string {
			u.QueryParams.TempURLSig = flipLast(u.QueryParams.TempURLSig)
			return e.storageURL(u)
		}, code: 401},
		{name: "expiry moved", url: func(e *env, u protocol.GenerateURLResponse) string {
			u.QueryParams.TempURLExpires += "0"
			return e.storageURL(u)
		}, code: 401},
		{name: "another path", url: func(e *env, u protocol.GenerateURLResponse) string {
			u.RelativePath = strings.Replace(u.RelativePath, ".PNG", "x.PNG", 1)
			return e.storageURL(u)
		}, code: 401},
		{name: "no signature", url: func(e *env, u protocol.GenerateURLResponse) string { return e.url(u.RelativePath) }, code: 401},
		{name: "another account", url: func(e *env, u protocol.GenerateURLResponse) string {
			u.RelativePath = strings.Replace(u.RelativePath, "/123/", "/999/", 1)
			return e.storageURL(u)
		}, code: 401},
		{name: "larger than announced", body: append(bytes.Clone(img), 0), code: 413},
		{name: "smaller than announced", body: img[:len(img)-1], code: 400},
		{name: "not a PNG", body: append(gifBytes(t), make([]byte, len(img)-len(gifBytes(t)))...), code: 415},
		{name: "another content type", contentType: "text/html", code: 415},
		{name: "its content type", contentType: "image/png", code: 201},
		{name: "octet stream", contentType: "application/octet-stream", code: 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cons := e.consumer(e.signup())
			u := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, len(img), "PNG")
			if tt.before != nil {
				tt.before(e)
			}
			target := e.storageURL(u)
			if tt.url != nil {
				target = tt.url(e, u)
			}
			body := img
			if tt.body != nil {
				body = tt.body
			}
			code, text, _ := e.do(http.MethodPut, target, tt.contentType, body)
			if code != tt.code {
				t.Fatalf("PUT: %d %s, want %d", code, text, tt.code)
			}
			r := cons.req(protocol.TypeGenerateURLForDownloadFile, protocol.GenerateURLForDownloadFile{RelativePath: u.RelativePath})
			if stored := r.Code == 200; stored != (tt.code == 201) {
				t.Errorf("after %d, the download URL: %d %s", code, r.Code, r.Body)
			}
		})
	}
}

func flipLast(s string) string {
	if strings.HasSuffix(s, "0") {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

// TestUploadAfterShareRefused: a shared file's bytes never change.
func TestUploadAfterShareRefused(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	img := pngBytes(t, 4, 4)
	u := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, len(img), "PNG")
	if code, _, _ := e.do(http.MethodPut, e.storageURL(u), "", img); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	cons.ok(protocol.TypePublishEvent, hostedFile(convID, protocol.HostedFile{RelativePath: u.RelativePath, FileType: "PNG"}))
	other := pngBytes(t, 4, 4)
	other[len(other)-5] ^= 1
	if code, body, _ := e.do(http.MethodPut, e.storageURL(u), "", other); code != http.StatusConflict {
		t.Errorf("a second upload after sharing: %d %s, want 409", code, body)
	}
}

// TestHostedFilePublishRefusals: a hosted/file event names a file this
// service issued to its publisher and that was uploaded, a known
// fileType, a preview under 30 KB; a refused one is not stored.
func TestHostedFilePublishRefusals(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	img := pngBytes(t, 4, 4)
	mine := e.upload(cons, protocol.TypeGenerateURLForUploadFile, "PNG", img)
	waiting := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, 10, "PNG").RelativePath
	stranger := e.consumer(e.signup())
	theirs := e.upload(stranger, protocol.TypeGenerateURLForUploadFile, "PNG", img)

	for _, tt := range []struct {
		name  string
		event string
		code  int
	}{
		{"unknown relativePath", `{"caption":"","relativePath":"/v1/AUTH_async-images/123/nope.PNG","fileType":"PNG"}`, 400},
		{"another consumer's file", `{"caption":"","relativePath":"` + theirs + `","fileType":"PNG"}`, 400},
		{"nothing uploaded", `{"caption":"","relativePath":"` + waiting + `","fileType":"PNG"}`, 400},
		{"no relativePath", `{"caption":"x","fileType":"PNG"}`, 400},
		{"unknown fileType", `{"caption":"","relativePath":"` + mine + `","fileType":"EXE"}`, 400},
		{"preview over 30 KB", `{"caption":"","relativePath":"` + mine + `","fileType":"PNG","preview":"data:image/png;base64,` + strings.Repeat("A", 30<<10) + `"}`, 413},
		{"a field not a string", `{"caption":1,"relativePath":"` + mine + `","fileType":"PNG"}`, 400},
		{"a string", `"` + mine + `"`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cons.sendRaw(`{"kind":"req","id":"p","type":"ms.PublishEvent","body":{"dialogId":"` + convID + `","event":{"type":"ContentEvent","contentType":"hosted/file","message":` + tt.event + `}}}`)
			if r := cons.resp("p"); r.Code != tt.code {
				t.Errorf("%d %s, want %d", r.Code, r.Body, tt.code)
			}
		})
	}
	if n := len(e.svc.DialogEvents(convID)); n != 0 {
		t.Errorf("%d events stored after refusals", n)
	}
	// The same file, well formed, is taken (a preview of exactly 30 KB).
	cons.ok(protocol.TypePublishEvent, hostedFile(convID, protocol.HostedFile{RelativePath: mine, FileType: "IMG", Preview: strings.Repeat("A", 30<<10)}))
}

// TestDownloadRefusals: a download URL only for the file's owner, the
// consumer of a conversation it was shared in and (once shared) agents;
// the storage serves it only to its own signature, method and expiry.
func TestDownloadRefusals(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	agent, _ := e.assign("alice")
	stranger := e.consumer(e.signup())
	img := pngBytes(t, 4, 4)
	path := e.upload(cons, protocol.TypeGenerateURLForUploadFile, "PNG", img)
	dl := func(c *client, typ string) protocol.Frame {
		return c.req(typ, protocol.GenerateURLForDownloadFile{RelativePath: path})
	}
	if r := dl(agent, ".ams.ms.GenerateURLForDownloadFile"); r.Code != 404 {
		t.Errorf("an agent, before the file is shared: %d %s", r.Code, r.Body)
	}
	cons.ok(protocol.TypePublishEvent, hostedFile(convID, protocol.HostedFile{RelativePath: path, FileType: "PNG"}))
	if r := dl(stranger, protocol.TypeGenerateURLForDownloadFile); r.Code != 404 {
		t.Errorf("another consumer: %d %s", r.Code, r.Body)
	}
	if r := dl(agent, ".ams.ms.GenerateURLForDownloadFile"); r.Code != 200 {
		t.Errorf("an agent, once shared: %d %s", r.Code, r.Body)
	}
	if r := cons.req(protocol.TypeGenerateURLForDownloadFile, protocol.GenerateURLForDownloadFile{RelativePath: "/v1/AUTH_async-images/123/nope.PNG"}); r.Code != 404 {
		t.Errorf("an unknown path: %d %s", r.Code, r.Body)
	}
	if r := cons.req(protocol.TypeGenerateURLForDownloadFile, struct{}{}); r.Code != 400 {
		t.Errorf("no relativePath: %d %s", r.Code, r.Body)
	}

	down := decode[protocol.GenerateURLResponse](t, dl(cons, protocol.TypeGenerateURLForDownloadFile))
	forged := down
	forged.QueryParams.TempURLSig = flipLast(down.QueryParams.TempURLSig)
	up := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, 10, "PNG")
	up.RelativePath = path // an upload signature, on the file's path
	for name, u := range map[string]string{
		"forged signature":      e.storageURL(forged),
		"an upload's signature": e.url(path) + "?temp_url_sig=" + e.svc.files.sign("PUT", path, 1<<40) + "&temp_url_expires=1099511627776",
		"no signature":          e.url(path),
		"another file's":        e.storageURL(up),
		"expiry as a word":      e.url(path) + "?temp_url_sig=" + down.QueryParams.TempURLSig + "&temp_url_expires=soon",
	} {
		if code, body, _ := e.do(http.MethodGet, u, "", nil); code != 401 {
			t.Errorf("%s: %d %s, want 401", name, code, body)
		}
	}
	if code, body, h := e.do(http.MethodHead, e.storageURL(down), "", nil); code != 200 || len(body) != 0 || h.Get("Content-Length") != fmt.Sprint(len(img)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %s", code, len(body), h.Get("Content-Length"))
	}
	e.clock.Advance(time.Minute)
	if code, body, _ := e.do(http.MethodGet, e.storageURL(down), "", nil); code != 401 {
		t.Errorf("expired: %d %s, want 401", code, body)
	}
	if code, body, _ := e.do(http.MethodGet, e.storageURL(decode[protocol.GenerateURLResponse](t, dl(cons, protocol.TypeGenerateURLForDownloadFile))), "", nil); code != 200 || !bytes.Equal(body, img) {
		t.Errorf("a fresh download URL: %d", code)
	}
}

// TestFileStorageBounded: a full store refuses the next upload (507) and
// keeps what it has; upload URLs never used are forgotten at their expiry.
func TestFileStorageBounded(t *testing.T) {
	img := pngBytes(t, 8, 8)
	e := newEnv(t, func(c *Config) { c.FileStorage = int64(2*len(img) + len(img)/2) })
	cons := e.consumer(e.signup())
	first := e.upload(cons, protocol.TypeGenerateURLForUploadFile, "PNG", img)
	second := e.upload(cons, protocol.TypeGenerateURLForUploadFile, "PNG", img)
	third := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, len(img), "PNG")
	if code, body, _ := e.do(http.MethodPut, e.storageURL(third), "", img); code != http.StatusInsufficientStorage {
		t.Fatalf("third upload: %d %s, want 507", code, body)
	}
	for _, p := range []string{first, second} {
		down := decode[protocol.GenerateURLResponse](t, cons.ok(protocol.TypeGenerateURLForDownloadFile, protocol.GenerateURLForDownloadFile{RelativePath: p}))
		if code, body, _ := e.do(http.MethodGet, e.storageURL(down), "", nil); code != 200 || !bytes.Equal(body, img) {
			t.Errorf("%s after the refusal: %d", p, code)
		}
	}

	e.clock.Advance(time.Minute)
	// Issuing prunes the upload URLs that expired unused (the third's).
	fresh := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, 1, "GIF").RelativePath
	e.svc.files.mu.Lock()
	var paths []string
	for p := range e.svc.files.files {
		paths = append(paths, p)
	}
	pending := len(e.svc.files.pending)
	e.svc.files.mu.Unlock()
	want := []string{first, second, fresh}
	slices.Sort(paths)
	slices.Sort(want)
	if !slices.Equal(paths, want) || pending != 1 {
		t.Errorf("kept %v with %d waiting; want %v with 1", paths, pending, want)
	}
}

// TestPendingUploadsBounded: upload URLs waiting to be used are bounded
// (429 beyond, the socket stays open); those that expire unused make room.
func TestPendingUploadsBounded(t *testing.T) {
	e := newEnv(t)
	e.svc.files.mu.Lock()
	e.svc.files.maxPending = 2
	e.svc.files.mu.Unlock()
	cons := e.consumer(e.signup())
	body := protocol.GenerateURLForUploadFile{FileSize: "10", FileType: "PNG"}
	cons.ok(protocol.TypeGenerateURLForUploadFile, body)
	cons.ok(protocol.TypeGenerateURLForUploadFile, body)
	cons.wantCode(429, protocol.TypeGenerateURLForUploadFile, body)
	e.clock.Advance(time.Minute)
	cons.ok(protocol.TypeGenerateURLForUploadFile, body)
}

package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Files are tested over loopback with the service's own storage: the
// tutorials' flow, then each refusal (docs/simulator.md, Files).

func testImage(w, h int) image.Image {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.RGBA{0x20, 0x60, 0xc0, 0xff}})
	for x := range w {
		img.SetColorIndex(x, x%h, 1)
	}
	return img
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(16, 8), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(4, 4), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// storageURL is File Sharing's {swift}/{relativePath}?temp_url_sig=…&temp_url_expires=…
// at the service's host.
func (e *env) storageURL(u protocol.GenerateURLResponse) string {
	return e.url(u.RelativePath) + "?temp_url_sig=" + u.QueryParams.TempURLSig + "&temp_url_expires=" + string(u.QueryParams.TempURLExpires)
}

// do sends an HTTP request and returns the status, the body and the headers.
func (e *env) do(method, u, contentType string, body []byte) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// uploadURL asks the socket for an upload URL.
func (c *client) uploadURL(typ string, size int, fileType string) protocol.GenerateURLResponse {
	c.t.Helper()
	r := c.ok(typ, protocol.GenerateURLForUploadFile{FileSize: protocol.ID(fmt.Sprint(size)), FileType: fileType})
	return decode[protocol.GenerateURLResponse](c.t, r)
}

// upload asks the socket for an upload URL and stores data there.
func (e *env) upload(c *client, typ string, fileType string, data []byte) string {
	e.t.Helper()
	u := c.uploadURL(typ, len(data), fileType)
	if code, body, _ := e.do(http.MethodPut, e.storageURL(u), "", data); code != http.StatusCreated {
		e.t.Fatalf("upload: %d %s", code, body)
	}
	return u.RelativePath
}

func hostedFile(dialogID string, f protocol.HostedFile) protocol.PublishEvent {
	return protocol.PublishEvent{DialogID: dialogID, Event: protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile, File: &f}}
}

// rawMessage returns the event's message as it came on the wire.
func rawMessage(t *testing.T, event json.RawMessage) json.RawMessage {
	t.Helper()
	var e struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(event, &e); err != nil {
		t.Fatal(err)
	}
	return e.Message
}

var relativePathShape = regexp.MustCompile(`^/v1/AUTH_async-images/123/[A-Za-z0-9-]+\.PNG$`)

// TestFileSharingTutorial plays File Sharing (and Publish Images) with the
// tutorials' own frames: an upload URL for a PNG, the bytes PUT at the
// domain API's swift host, the hosted/file event published, the agent and
// the consumer receiving its message as the object sent, a download URL,
// and the bytes back, typed.
func TestFileSharingTutorial(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	agent, _ := e.assign("alice")

	resp, err := http.Get(e.url("/api/account/123/service/baseURI.json?version=1.0"))
	if err != nil {
		t.Fatal(err)
	}
	var uris protocol.BaseURIs
	err = json.NewDecoder(resp.Body).Decode(&uris)
	resp.Body.Close()
	swift, ok := uris.Lookup(protocol.ServiceSwift)
	if err != nil || !ok || "http://"+swift != e.srv.URL {
		t.Fatalf("domain API swift = %q (%v), want the service's host", swift, err)
	}

	logo := pngBytes(t, 100, 16)
	cons.sendRaw(fmt.Sprintf(`{"kind":"req","id":"3","body":{"fileSize":%d,"fileType":"PNG"},"type":"ms.GenerateURLForUploadFile"    }`, len(logo)))
	r := cons.resp("3")
	if r.Code != 200 || r.Type != "ms.GenerateURLResponse" {
		t.Fatalf("GenerateURLForUploadFile: %d %s %s", r.Code, r.Type, r.Body)
	}
	up := decode[protocol.GenerateURLResponse](t, r)
	if !relativePathShape.MatchString(up.RelativePath) || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(up.QueryParams.TempURLSig) ||
		string(up.QueryParams.TempURLExpires) != fmt.Sprint(epoch.Add(time.Minute).Unix()) {
		t.Fatalf("upload URL %s", r.Body)
	}
	if code, body, _ := e.do(http.MethodPut, "http://"+swift+up.RelativePath+"?temp_url_sig="+up.QueryParams.TempURLSig+"&temp_url_expires="+string(up.QueryParams.TempURLExpires), "", logo); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}

	const preview = "data:image/png;base64,iVBORw0KGgo="
	cons.sendRaw(`{"kind":"req","id":"22","body":{"dialogId":"` + convID + `","event":{"type":"ContentEvent","message":{"caption":"LivePerson logo","relativePath":"` + up.RelativePath + `","fileType":"PNG","preview":"` + preview + `"},"contentType":"hosted/file"}},"type":"ms.PublishEvent"}`)
	if r := cons.resp("22"); r.Code != 200 || string(r.Body) != `{"sequence":0}` {
		t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	want := protocol.HostedFile{Caption: "LivePerson logo", RelativePath: up.RelativePath, FileType: "PNG", Preview: preview}
	wantMsg := `{"caption":"LivePerson logo","relativePath":"` + up.RelativePath + `","fileType":"PNG","preview":"` + preview + `"}`

	n := agent.notif(onlineEvent)
	var online struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(n.Body, &online); err != nil {
		t.Fatal(err)
	}
	if got := string(rawMessage(t, online.Event)); got != wantMsg {
		t.Errorf("the agent's event message is %s, want the object %s", got, wantMsg)
	}
	n = cons.notif(protocol.TypeMessagingEventNotification)
	ev := decode[protocol.MessagingEventNotification](t, n).Changes[0]
	if ev.Event.File == nil || *ev.Event.File != want || ev.Event.ContentType != "hosted/file" {
		t.Errorf("the consumer's event: %s", n.Body)
	}
	if hist := e.svc.DialogEvents(convID); len(hist) != 1 || hist[0].Event.File == nil || *hist[0].Event.File != want {
		t.Errorf("stored: %+v", hist)
	}

	for _, who := range []struct {
		name string
		c    *client
		typ  string
		resp string
	}{
		{"agent", agent, ".ams.ms.GenerateURLForDownloadFile", ".ams.ms.GenerateURLForDownloadFile$Response"},
		{"consumer", cons, "ms.GenerateURLForDownloadFile", "ms.GenerateURLResponse"},
	} {
		r := who.c.ok(who.typ, protocol.GenerateURLForDownloadFile{RelativePath: up.RelativePath})
		if r.Type != who.resp {
			t.Errorf("%s: download URL typed %q, want %q", who.name, r.Type, who.resp)
		}
		down := decode[protocol.GenerateURLResponse](t, r)
		if down.RelativePath != up.RelativePath || down.QueryParams.TempURLSig == up.QueryParams.TempURLSig {
			t.Errorf("%s: download URL %s", who.name, r.Body)
		}
		code, body, h := e.do(http.MethodGet, e.storageURL(down), "", nil)
		if code != 200 || !bytes.Equal(body, logo) || h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: download %d %s, %d bytes", who.name, code, h.Get("Content-Type"), len(body))
		}
	}
}

// TestAgentSharesFile: the agent SDK's file-sharing example (fileSize as a
// number, JPEG, the bytes PUT with their content type, no preview); the
// consumer receives the object and downloads the bytes.
func TestAgentSharesFile(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	agent, _ := e.assign("alice")
	photo := jpegBytes(t)

	agent.sendRaw(fmt.Sprintf(`{"kind":"req","id":"u1","type":".ams.ms.GenerateURLForUploadFile","body":{"fileSize":%d,"fileType":"JPEG"}}`, len(photo)))
	r := agent.resp("u1")
	if r.Code != 200 || r.Type != ".ams.ms.GenerateURLForUploadFile$Response" {
		t.Fatalf("agent upload URL: %d %s %s", r.Code, r.Type, r.Body)
	}
	up := decode[protocol.GenerateURLResponse](t, r)
	if code, body, _ := e.do(http.MethodPut, e.storageURL(up), "image/jpeg", photo); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	agent.ok(".ams.ms.PublishEvent", hostedFile(convID, protocol.HostedFile{Caption: "yay!", RelativePath: up.RelativePath, FileType: "JPEG"}))

	n := cons.notif(protocol.TypeMessagingEventNotification)
	if got := string(rawMessage(t, json.RawMessage(mustField(t, n.Body, "changes", "0", "event")))); got != `{"caption":"yay!","relativePath":"`+up.RelativePath+`","fileType":"JPEG"}` {
		t.Errorf("the consumer's event message: %s", got)
	}
	down := decode[protocol.GenerateURLResponse](t, cons.ok(protocol.TypeGenerateURLForDownloadFile, protocol.GenerateURLForDownloadFile{RelativePath: up.RelativePath}))
	code, body, h := e.do(http.MethodGet, e.storageURL(down), "", nil)
	if code != 200 || !bytes.Equal(body, photo) || h.Get("Content-Type") != "image/jpeg" {
		t.Errorf("download: %d %s, %d bytes", code, h.Get("Content-Type"), len(body))
	}
}

// mustField walks a JSON document by object keys and array indexes.
func mustField(t *testing.T, doc json.RawMessage, path ...string) json.RawMessage {
	t.Helper()
	cur := doc
	for _, p := range path {
		if strings.HasPrefix(string(bytes.TrimSpace(cur)), "[") {
			var a []json.RawMessage
			if err := json.Unmarshal(cur, &a); err != nil {
				t.Fatal(err)
			}
			var i int
			fmt.Sscan(p, &i)
			if i >= len(a) {
				t.Fatalf("%s: no element %d", doc, i)
			}
			cur = a[i]
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			t.Fatal(err)
		}
		cur = m[p]
	}
	return cur
}

// TestGenerateUploadURLRefusals: the file types and sizes File Sharing
// allows (JPG, JPEG, PNG, GIF; up to 3 MB), anything else 400.
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
		{"pdf is shared, not uploaded", `{"fileSize":10,"fileType":"PDF"}`, 400},
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

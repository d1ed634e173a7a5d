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
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
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

// TestConsumerSharesDocuments: the documents of Photo and File Sharing go
// both ways like images: a consumer uploads a PDF, a DOCX, an XLSX and a
// PPTX (their bytes checked, a zip that is no document refused), shares
// each, and the agent downloads it typed as its kind.
func TestConsumerSharesDocuments(t *testing.T) {
	e := newEnv(t)
	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	agent, _ := e.assign("alice")
	for _, tt := range []struct {
		fileType, mediaType string
		data                []byte
	}{
		{"PDF", "application/pdf", testfiles.PDF("the invoice")},
		{"DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", testfiles.Office("word/document.xml")},
		{"XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", testfiles.Office("xl/workbook.xml")},
		{"PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation", testfiles.Office("ppt/presentation.xml")},
	} {
		t.Run(tt.fileType, func(t *testing.T) {
			path := e.upload(cons, protocol.TypeGenerateURLForUploadFile, tt.fileType, tt.data)
			cons.ok(protocol.TypePublishEvent, hostedFile(convID, protocol.HostedFile{Caption: "report" + strings.ToLower("."+tt.fileType), RelativePath: path, FileType: tt.fileType}))
			down := decode[protocol.GenerateURLResponse](t, agent.ok(".ams.ms.GenerateURLForDownloadFile", protocol.GenerateURLForDownloadFile{RelativePath: path}))
			code, body, h := e.do(http.MethodGet, e.storageURL(down), "", nil)
			if code != 200 || !bytes.Equal(body, tt.data) || h.Get("Content-Type") != tt.mediaType {
				t.Errorf("the agent's download: %d %s, %d bytes", code, h.Get("Content-Type"), len(body))
			}
		})
	}
	zip := testfiles.Zip()
	u := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, len(zip), "DOCX")
	if code, body, _ := e.do(http.MethodPut, e.storageURL(u), "", zip); code != http.StatusUnsupportedMediaType {
		t.Errorf("a zip uploaded as a DOCX: %d %s, want 415", code, body)
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

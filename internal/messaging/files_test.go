package messaging_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestConsumerSharesFile: the consumer's file methods against the
// embedded service (docs/protocol.md, Files): an upload URL at the
// discovered swift host, the bytes uploaded, the hosted/file event
// published and received by the agent as the object sent, a download URL
// for the agent and for the consumer, the bytes back.
func TestConsumerSharesFile(t *testing.T) {
	e := newEnv(t)
	consumer, ccol, _ := newConsumer(t, e, e.ep, false, nil)
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Follow(t.Context(), convID, convID, 0); err != nil {
		t.Fatal(err)
	}
	agent, acol, _ := newAgent(t, e, e.ep)
	acceptRing(t, agent, acol, convID)

	data := tinyPNG(t)
	up, err := consumer.GenerateUploadURL(t.Context(), int64(len(data)), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.URL, e.srv.URL+"/v1/AUTH_async-images/123/") || !strings.Contains(up.URL, "temp_url_sig=") ||
		up.Expires.Unix() != e.clock.Now().Add(time.Minute).Unix() {
		t.Fatalf("upload URL %+v", up)
	}
	if err := messaging.Upload(t.Context(), e.srv.Client(), up, "image/png", data); err != nil {
		t.Fatal(err)
	}
	file := protocol.HostedFile{Caption: "receipt", RelativePath: up.RelativePath, FileType: "PNG", Preview: "data:image/png;base64,AA=="}
	if _, err := consumer.Publish(t.Context(), convID, convID, protocol.Event{Type: protocol.EventContent, File: &file}); err != nil {
		t.Fatal(err)
	}
	hasFile := func(ups []messaging.Update) bool {
		for _, u := range ups {
			if ev, ok := u.(messaging.EventUpdate); ok && ev.Event.Event.File != nil && *ev.Event.Event.File == file {
				return true
			}
		}
		return false
	}
	acol.WaitFor(t, "the agent gets the file", hasFile)
	ccol.WaitFor(t, "the consumer's own file", hasFile)

	for name, gen := range map[string]func() (messaging.StorageURL, error){
		"agent": func() (messaging.StorageURL, error) { return agent.GenerateDownloadURL(t.Context(), up.RelativePath) },
		"consumer": func() (messaging.StorageURL, error) {
			return consumer.GenerateDownloadURL(t.Context(), up.RelativePath)
		},
	} {
		down, err := gen()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f, err := messaging.Download(t.Context(), e.srv.Client(), down, 3<<20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.ContentType != "image/png" || !bytes.Equal(f.Data, data) {
			t.Errorf("%s downloaded %s, %d bytes", name, f.ContentType, len(f.Data))
		}
		if _, err := messaging.Download(t.Context(), e.srv.Client(), down, int64(len(data)-1)); !errors.Is(err, messaging.ErrFileTooLarge) {
			t.Errorf("%s: a file over the limit: %v", name, err)
		}
	}
}

// TestAgentSharesFileWithConsumer: the agent's side of the same (the agent
// SDK's file-sharing example), and the refusals as errors the caller can
// read: a bad type is the service's 400, an expired upload URL the
// storage's 401, without the signed URL in the error's text.
func TestAgentSharesFileWithConsumer(t *testing.T) {
	e := newEnv(t)
	consumer, ccol, _ := newConsumer(t, e, e.ep, false, nil)
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Follow(t.Context(), convID, convID, 0); err != nil {
		t.Fatal(err)
	}
	agent, acol, _ := newAgent(t, e, e.ep)
	acceptRing(t, agent, acol, convID)

	if _, err := agent.GenerateUploadURL(t.Context(), 10, "BMP"); messaging.Classify(err) != messaging.GiveUp {
		t.Errorf("BMP: %v, want a refusal for good", err)
	}
	data := tinyPNG(t)
	late, err := agent.GenerateUploadURL(t.Context(), int64(len(data)), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	err = messaging.Upload(t.Context(), e.srv.Client(), late, "", data)
	var se *messaging.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || strings.Contains(err.Error(), late.QueryParams.TempURLSig) {
		t.Errorf("an expired upload URL: %v", err)
	}

	up, err := agent.GenerateUploadURL(t.Context(), int64(len(data)), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	if err := messaging.Upload(t.Context(), e.srv.Client(), up, "", data); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Publish(t.Context(), convID, protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
		File: &protocol.HostedFile{Caption: "your invoice", RelativePath: up.RelativePath, FileType: "PNG"}}); err != nil {
		t.Fatal(err)
	}
	var path string
	ccol.WaitFor(t, "the consumer gets the file", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if ev, ok := u.(messaging.EventUpdate); ok && ev.Event.Event.File != nil {
				path = ev.Event.Event.File.RelativePath
				return ev.Event.Event.File.Caption == "your invoice"
			}
		}
		return false
	})
	down, err := consumer.GenerateDownloadURL(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := messaging.Download(t.Context(), e.srv.Client(), down, 3<<20); err != nil || !bytes.Equal(f.Data, data) {
		t.Errorf("download: %v", err)
	}
}

// TestNoStorageHost: endpoints without swift cannot make storage URLs,
// and say why.
func TestNoStorageHost(t *testing.T) {
	e := newEnv(t)
	ep := e.ep
	ep.Swift = ""
	consumer, _, _ := newConsumer(t, e, ep, false, nil)
	if _, err := consumer.GenerateUploadURL(t.Context(), 10, "PNG"); !errors.Is(err, messaging.ErrNoStorage) {
		t.Errorf("GenerateUploadURL without swift: %v", err)
	}
}

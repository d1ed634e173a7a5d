package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// attach is the window's (and the console's) file input.
const attach = `[data-testid="attach"]`

// writeFile writes data to a file named name in a fresh directory and
// returns its path, for the file input.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// choose picks files in the page's file input, as the file chooser would.
func (p *tab) choose(files ...string) {
	p.t.Helper()
	// The input is transparent over its label: ready, not "visible".
	p.do("choose "+filepath.Base(files[0]), chromedp.SetUploadFiles(chromedp.CSS(attach), files, chromedp.NodeReady))
}

// watchUploads records, from now on, whether the tray showed a file's
// progress (it may come and go between two polls).
func (p *tab) watchUploads() {
	p.t.Helper()
	eval[bool](p, `(() => {
		window.__progress = 0;
		new MutationObserver(recs => {
			for (const r of recs) for (const n of r.addedNodes) if (n.nodeName === "PROGRESS") window.__progress++;
		}).observe(document.body, {subtree: true, childList: true});
		return true;
	})()`)
}

// hostedFiles are the hosted/file events of the dialog's history.
func hostedFiles(t *testing.T, dialogID string) []protocol.MessagingEvent {
	t.Helper()
	var out []protocol.MessagingEvent
	for _, ev := range env.agent.history(t, dialogID) {
		if ev.Event.File != nil {
			out = append(out, ev)
		}
	}
	return out
}

// TestBrowserCustomerImage: the customer attaches an image with the file
// input; the window shows its progress, then the customer's own image
// bubble (data-kind="image") with the thumbnail the page made (a small
// data: JPEG, within the window's CSP), which ticks sent, delivered and
// read with the agent's receipts. The agent gets one hosted/file event
// and downloads the very bytes. A file too large, or of a type file
// sharing does not carry, is refused in the page with a message, and
// nothing is published.
func TestBrowserCustomerImage(t *testing.T) {
	c := startChat(t)
	axe := loadAxe(t)
	c.watchUploads()
	img := testfiles.PNG(200, 120)
	c.choose(writeFile(t, "parcel.png", img))

	mine := `document.querySelector('[data-testid="message"][data-from="consumer"][data-kind="image"]')`
	c.waitJS("the customer's image sent", `(() => { const el = `+mine+`; return !!el && !!el.dataset.seq && el.dataset.receipt === "sent"; })()`)
	thumb := mine + `.querySelector('img[data-testid="file-preview"]')`
	c.waitJS("the thumbnail shown", `(() => { const i = `+thumb+`; return !!i && i.complete && i.naturalWidth > 0; })()`)
	if src := eval[string](c.tab, thumb+`.getAttribute("src")`); len(src) < 23 || src[:23] != "data:image/jpeg;base64," {
		t.Errorf("the thumbnail is %.40q, want the page's JPEG", src)
	}
	if w, h := eval[int](c.tab, thumb+`.naturalWidth`), eval[int](c.tab, thumb+`.naturalHeight`); w != 160 || h != 96 {
		t.Errorf("the thumbnail is %d×%d, want 160×96 (the page scales to 160 px)", w, h)
	}
	if got := eval[string](c.tab, mine+`.querySelector('[data-testid="file-caption"]').textContent`); got != "parcel.png" {
		t.Errorf("caption %q", got)
	}
	if n := eval[int](c.tab, `window.__progress`); n != 1 {
		t.Errorf("the tray showed progress %d times, want once", n)
	}
	c.waitJS("the tray emptied", `!document.querySelector(".upload")`)

	files := hostedFiles(t, c.convID)
	if len(files) != 1 {
		t.Fatalf("%d hosted files in the dialog, want 1", len(files))
	}
	hf := files[0].Event.File
	if hf.Caption != "parcel.png" || hf.FileType != "PNG" {
		t.Errorf("published %+v", hf)
	}
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	u, err := env.agent.GenerateDownloadURL(ctx, hf.RelativePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := messaging.Download(ctx, nil, u, 3<<20)
	if err != nil || !bytes.Equal(got.Data, img) {
		t.Fatalf("the agent downloaded %d bytes (%v), not the %d attached", len(got.Data), err, len(img))
	}

	seq, err := strconv.ParseInt(eval[string](c.tab, mine+`.dataset.seq`), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: accept, SequenceList: protocol.Seqs{seq}})
	c.waitJS("delivered ticks", mine+`.dataset.receipt === "accepted"`)
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: read, SequenceList: protocol.Seqs{seq}})
	c.waitJS("read ticks", mine+`.dataset.receipt === "read"`)

	// Refused in the page, before anything is posted.
	for _, tt := range []struct{ name, text string }{
		{"huge.png", "This file is empty or larger than 3 MB."},
		{"notes.txt", "Only JPG, PNG, GIF, PDF, DOCX, XLSX or PPTX files can be sent."},
	} {
		data := []byte("just some words")
		if tt.name == "huge.png" {
			data = append(bytes.Clone(img), make([]byte, 3<<20)...)
		}
		c.choose(writeFile(t, tt.name, data))
		item := `[...document.querySelectorAll(".upload")].find(e => e.firstChild.textContent === ` + jsString(tt.name) + `)`
		c.waitJS(tt.name+" refused", `(() => { const el = `+item+`; return !!el && el.dataset.state === "failed"; })()`)
		if got := eval[string](c.tab, item+`.children[1].textContent`); got != tt.text {
			t.Errorf("%s: the page says %q, want %q", tt.name, got, tt.text)
		}
		if eval[bool](c.tab, item+`.querySelector("progress") !== null`) {
			t.Errorf("%s: the refused file shows progress", tt.name)
		}
		// The image bubble, the attach control and a refusal with its
		// button: no serious or critical accessibility violation.
		c.axeScan(axe)
		c.do("dismiss "+tt.name, chromedp.Click(chromedp.CSS(".upload button")))
		c.waitJS(tt.name+" dismissed", `!`+item)
	}
	if n := eval[int](c.tab, `window.__progress`); n != 1 {
		t.Errorf("a refused file was posted (%d progress bars)", n)
	}
	if n := len(hostedFiles(t, c.convID)); n != 1 {
		t.Errorf("%d hosted files after the refusals, want 1", n)
	}
	if p := c.problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations: %q", p)
	}
}

// TestBrowserDropAndPaste: a file dropped on the window, and an image
// pasted into it, are sent like an attached one: each becomes the
// customer's image bubble.
func TestBrowserDropAndPaste(t *testing.T) {
	c := startChat(t)
	png := base64.StdEncoding.EncodeToString(testfiles.PNG(40, 30))
	// A DataTransfer holding the PNG as a file, as the browser makes for
	// a drop or a paste.
	files := `(() => {
		const b = Uint8Array.from(atob(` + jsString(png) + `), ch => ch.charCodeAt(0));
		const dt = new DataTransfer();
		dt.items.add(new File([b], NAME, {type: "image/png"}));
		return dt;
	})()`
	dropped := strings.Replace(files, "NAME", `"dropped.png"`, 1)
	pasted := strings.Replace(files, "NAME", `"image.png"`, 1)
	eval[bool](c.tab, `(() => {
		const dt = `+dropped+`;
		const over = new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true});
		document.querySelector(".messages").dispatchEvent(over);
		if (!over.defaultPrevented) throw new Error("the window does not take the drop");
		document.querySelector(".messages").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true;
	})()`)
	eval[bool](c.tab, `document.querySelector(`+jsString(composer)+`).dispatchEvent(new ClipboardEvent("paste", {clipboardData: `+pasted+`, bubbles: true, cancelable: true}))`)
	for _, name := range []string{"dropped.png", "image.png"} {
		c.waitJS(name+" sent", `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"][data-kind="image"][data-seq]')]
			.some(e => e.querySelector('[data-testid="file-caption"]').textContent === `+jsString(name)+`)`)
	}
	if n := len(hostedFiles(t, c.convID)); n != 2 {
		t.Errorf("%d hosted files, want the dropped and the pasted", n)
	}
	if v := eval[string](c.tab, `document.querySelector(`+jsString(composer)+`).value`); v != "" {
		t.Errorf("the paste put %q in the composer", v)
	}
}

// TestBrowserConsoleFiles: files both ways through the agent console. The
// customer's image shows in the console as a picture item whose thumbnail
// and bytes come through the console's own /agent/file; the agent attaches
// a PDF in the console's composer, which shows with its V marks and
// reaches the customer's window as a file bubble (data-kind="file") whose
// Download gives the very bytes, and the customer's ACCEPT moves its V.
func TestBrowserConsoleFiles(t *testing.T) {
	agent := openConsole(t)
	axe := loadAxe(t)
	cust := newCustomer(t)
	cust.open()
	cust.typeAndSend("The parcel came damaged")
	cust.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
	agent.waitJS("the conversation open", `(() => { const h = document.querySelector('[data-testid="pane-header"]'); return !!h && h.dataset.conversationId === `+jsString(convID)+`; })()`)
	cust.waitJS("the agent joined", `!!document.querySelector('#agent-name strong')`)

	// The customer's image, in the console.
	img := testfiles.PNG(90, 60)
	cust.choose(writeFile(t, "damage.png", img))
	theirs := `document.querySelector('[data-testid="message"][data-from="consumer"][data-kind="image"]')`
	agent.waitJS("the customer's image in the console", `(() => {
		const el = `+theirs+`, i = el && el.querySelector('img[data-testid="file-preview"]');
		return !!i && i.complete && i.naturalWidth > 0;
	})()`)
	if href := eval[string](agent, theirs+`.querySelector('[data-testid="file-download"]').getAttribute("href")`); !strings.HasPrefix(href, "/agent/file?p=") {
		t.Errorf("the console's link %q is not its own", href)
	}
	fetchBytes := func(p *tab, link string) []byte {
		t.Helper()
		v, err := chromedp.Run(p.bounded(), chromedp.Evaluate[[]byte](`fetch(`+link+`).then(r => r.ok ? r.arrayBuffer() : Promise.reject(new Error(r.status)))
			.then(b => Array.from(new Uint8Array(b)))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch %s: %v", link, err)
		}
		var ints []int // the raw JSON of the page's array of bytes
		if err := json.Unmarshal(v, &ints); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, len(ints))
		for i, x := range ints {
			b[i] = byte(x)
		}
		return b
	}
	if got := fetchBytes(agent, theirs+`.querySelector('[data-testid="file-download"]').href`); !bytes.Equal(got, img) {
		t.Errorf("the console's download: %d bytes, not the %d attached", len(got), len(img))
	}

	// The agent's document, to the customer.
	doc := testfiles.PDF("your refund")
	agent.choose(writeFile(t, "refund.pdf", doc))
	mine := `document.querySelector('[data-testid="message"][data-from="agent"][data-kind="file"]')`
	agent.waitJS("the agent's file sent", `(() => { const el = `+mine+`; return !!el && ["sent", "accepted", "read"].includes(el.dataset.v); })()`)
	inWindow := `document.querySelector('[data-testid="message"][data-from="agent"][data-kind="file"]')`
	cust.waitJS("the agent's file in the window", `!!`+inWindow)
	if got := eval[string](cust, inWindow+`.querySelector('[data-testid="file-caption"]').textContent + " " + `+inWindow+`.querySelector('[data-testid="file-type"]').textContent`); got != "refund.pdf PDF" {
		t.Errorf("the window's file bubble says %q", got)
	}
	if got := fetchBytes(cust, inWindow+`.querySelector('[data-testid="file-download"]').href`); !bytes.Equal(got, doc) {
		t.Errorf("the customer's download: %d bytes, not the %d sent", len(got), len(doc))
	}
	agent.waitJS("delivered: two V", `["accepted", "read"].includes(`+mine+`.dataset.v)`)
	agent.axeScan(axe)
	cust.axeScan(axe)
	for _, p := range []*tab{agent, cust} {
		if probs := p.problems(); len(probs) > 0 {
			t.Errorf("console errors or CSP violations: %q", probs)
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
)

// testdata/frames.jsonl is the first frames a tab of a real run received
// (chatload -sessions 2 -rate 400 -capture …): the window, the banner, the
// customer's bubble before and after its sequence, agent bubbles one and
// two to a frame.
func loadFrames(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/frames.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) < 10 {
		t.Fatalf("only %d frames in testdata", len(out))
	}
	return out
}

// found is a bubble as a test compares it.
type found struct {
	From, Dialog, Text string
	Seq                int64
	HasSeq             bool
}

// reference reads a frame with a real HTML parser (goquery, as
// internal/testing/pageclient does): what the scanner must find.
func reference(t *testing.T, frame string) (bubbles []found, reset bool, conn string, hasConn bool) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	doc.Find(`[data-testid="message"]`).Each(func(_ int, s *goquery.Selection) {
		f := found{From: s.AttrOr("data-from", ""), Dialog: s.AttrOr("data-dialog-id", ""), Text: s.Find(".message-text").First().Text()}
		if v, ok := s.Attr("data-seq"); ok {
			f.Seq, _ = strconv.ParseInt(v, 10, 64)
			f.HasSeq = true
		}
		bubbles = append(bubbles, f)
	})
	reset = doc.Find("#messages").Length() > 0
	c := doc.Find("#connection")
	conn, hasConn = c.Attr("data-state")
	return bubbles, reset, conn, hasConn && c.Length() > 0
}

func scanned(frame string) (bubbles []found, reset bool, conn string, hasConn bool) {
	var fs frameScan
	scanFrame([]byte(frame), &fs)
	for _, b := range fs.Bubbles {
		bubbles = append(bubbles, found{From: string(b.From), Dialog: string(b.Dialog), Text: b.TextString(), Seq: b.Seq, HasSeq: b.HasSeq})
	}
	return bubbles, fs.Reset, string(fs.Connection), fs.Connection != nil
}

func TestScanRealFrames(t *testing.T) {
	frames := loadFrames(t)
	// A window sent after a reload: the first frame with bubbles inside
	// its list, as the window renders them (the same MessageItem).
	var items []string
	for _, f := range frames {
		if strings.HasPrefix(f, `<div hx-swap-oob="beforeend:#messages">`) {
			items = append(items, strings.TrimSuffix(strings.TrimPrefix(f, `<div hx-swap-oob="beforeend:#messages">`), `</div>`))
		}
	}
	reload := strings.Replace(frames[0], `hx-swap-oob="innerHTML"></ol>`, `hx-swap-oob="innerHTML">`+strings.Join(items[:5], "")+`</ol>`, 1)
	frames = append(frames, reload)

	var agent, consumer, withSeq, resets, banners int
	for i, f := range frames {
		wb, wr, wc, whc := reference(t, f)
		gb, gr, gc, ghc := scanned(f)
		if diff := cmp.Diff(wb, gb); diff != "" {
			t.Errorf("frame %d: bubbles (-goquery +scanner):\n%s", i, diff)
		}
		if wr != gr || wc != gc || whc != ghc {
			t.Errorf("frame %d: reset %v, connection %q (%v); goquery says %v, %q (%v)", i, gr, gc, ghc, wr, wc, whc)
		}
		for _, b := range gb {
			switch b.From {
			case "agent":
				agent++
				if _, _, ok := parseLoadText([]byte(b.Text)); !ok {
					t.Errorf("frame %d: agent text %q is not chatload's", i, b.Text)
				}
			case "consumer":
				consumer++
				if b.HasSeq {
					withSeq++
				}
			}
		}
		if gr {
			resets++
		}
		if ghc {
			banners++
		}
	}
	// The data must hold what the scanner is for.
	if agent < 40 || consumer < 2 || withSeq < 1 || resets < 2 || banners < 2 {
		t.Errorf("testdata too thin: %d agent bubbles, %d customer bubbles (%d with a sequence), %d windows, %d banners", agent, consumer, withSeq, resets, banners)
	}
}

func TestScanEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		want  []found
		reset bool
	}{
		{
			name:  "quoted > and single quotes",
			frame: `<meta content='{"a":">"}'><li data-testid="message" data-from='agent' data-seq=7 data-dialog-id="d"><p class="x message-text y">a &amp; b &lt;3</p></li>`,
			want:  []found{{From: "agent", Dialog: "d", Seq: 7, HasSeq: true, Text: "a & b <3"}},
		},
		{
			name:  "comment and no sequence",
			frame: `<!-- <li data-testid="message"> --><li data-testid="message" data-from="consumer" data-dialog-id=""><p class="message-text">hi</p></li>`,
			want:  []found{{From: "consumer", Text: "hi"}},
		},
		{
			name:  "truncated tag",
			frame: `<li data-testid="message" data-from="agent"><p class="message-text">x</p></li><li data-testid="mess`,
			want:  []found{{From: "agent", Text: "x"}},
		},
		{
			name:  "bad sequence",
			frame: `<li data-testid="message" data-from="agent" data-seq="x1"></li>`,
			want:  []found{{From: "agent"}},
		},
		{
			name:  "list replaced",
			frame: `<ol id="messages" hx-swap-oob="innerHTML"></ol>`,
			reset: true,
		},
		{name: "empty", frame: ``},
		{name: "text only", frame: `no tags at all <`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reset, _, _ := scanned(tt.frame)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bubbles (-want +got):\n%s", diff)
			}
			if reset != tt.reset {
				t.Errorf("reset %v, want %v", reset, tt.reset)
			}
		})
	}
}

func TestLoadText(t *testing.T) {
	id, ns, ok := parseLoadText([]byte(loadText(12345, 987654321)))
	if !ok || id != 12345 || ns != 987654321 {
		t.Errorf("round trip: %d %d %v", id, ns, ok)
	}
	for _, bad := range []string{"", "load", "load 1", "load x 2", "load 1 y", "hello 1 2"} {
		if _, _, ok := parseLoadText([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func BenchmarkScanFrame(b *testing.B) {
	var frame []byte
	f, _ := os.Open("testdata/frames.jsonl")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s string
		json.Unmarshal(sc.Bytes(), &s)
		if strings.Contains(s, `data-from="agent"`) {
			frame = []byte(s)
			break
		}
	}
	f.Close()
	var fs frameScan
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		scanFrame(frame, &fs)
	}
}

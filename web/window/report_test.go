package window

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// reportFrame is a report as chat.js writes it, of n items from one
// dialog (its id as the service makes them).
func reportFrame(status string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"dialogId":"f3c1a9e2-5b7d-4e8a-9c1f-2d3e4b5a6c7d","seq":%d}`, 12+i)
	}
	return `{"type":"report","status":"` + status + `","items":[` + strings.Join(items, ",") + `]}`
}

// reportCases are the fast path's hard cases: whether it takes each (the
// rest go to encoding/json, which may accept them, read them otherwise or
// refuse them).
var reportCases = []struct {
	name string
	in   string
	fast bool
}{
	{"one item", `{"type":"report","status":"delivered","items":[{"dialogId":"C1","seq":4}]}`, true},
	{"seen, ten items", reportFrame("seen", 10), true},
	{"max items", reportFrame("delivered", pagesocket.MaxReportItems), true},
	{"one item too many", reportFrame("delivered", pagesocket.MaxReportItems+1), false},
	{"no items", `{"type":"report","status":"seen","items":[]}`, false},
	{"items null", `{"type":"report","status":"seen","items":null}`, false},
	{"several dialogs", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1},{"dialogId":"C1","seq":2},{"dialogId":"C2","seq":1},{"dialogId":"C1","seq":3}]}`, true},
	{"empty dialog id", `{"type":"report","status":"seen","items":[{"dialogId":"","seq":1}]}`, true},
	{"multibyte UTF-8", `{"type":"report","status":"seen","items":[{"dialogId":"Çé→😀","seq":1}]}`, true},
	{"DEL byte", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"C\x7f\",\"seq\":1}]}", true},
	{"seq 0", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":0}]}`, true},
	{"seq max int64", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":9223372036854775807}]}`, true},
	{"seq max int64 + 1", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":9223372036854775808}]}`, false},
	{"seq huge", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":99999999999999999999}]}`, false},
	{"seq negative", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":-4}]}`, false},
	{"seq -0", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":-0}]}`, false},
	{"seq leading zero", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":01}]}`, false},
	{"seq 00", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":00}]}`, false},
	{"seq exponent", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1e3}]}`, false},
	{"seq fraction", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1.0}]}`, false},
	{"seq string", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":"4"}]}`, false},
	{"seq null (Number of NaN)", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":null}]}`, false},
	{"seq missing", `{"type":"report","status":"seen","items":[{"dialogId":"C1"}]}`, false},
	{"escaped quote", `{"type":"report","status":"seen","items":[{"dialogId":"C\"1","seq":1}]}`, false},
	{"unicode escape", `{"type":"report","status":"seen","items":[{"dialogId":"C\u0031","seq":1}]}`, false},
	{"escaped NUL", `{"type":"report","status":"seen","items":[{"dialogId":"\u0000","seq":1}]}`, false},
	{"escaped solidus", `{"type":"report","status":"seen","items":[{"dialogId":"C\/1","seq":1}]}`, false},
	{"raw NUL", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"C\x00\",\"seq\":1}]}", false},
	{"raw tab", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"C\t\",\"seq\":1}]}", false},
	{"invalid UTF-8", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"C\xff\",\"seq\":1}]}", false},
	{"UTF-8 surrogate", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"\xed\xa0\x80\",\"seq\":1}]}", false},
	{"truncated UTF-8", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"\xc3\",\"seq\":1}]}", false},
	{"duplicate status", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}],"status":"delivered"}`, false},
	{"duplicate seq", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1,"seq":2}]}`, false},
	{"duplicate dialogId", `{"type":"report","status":"seen","items":[{"dialogId":"C1","dialogId":"C2","seq":1}]}`, false},
	{"Type", `{"Type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"STATUS", `{"type":"report","STATUS":"seen","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"dialogID", `{"type":"report","status":"seen","items":[{"dialogID":"C1","seq":1}]}`, false},
	{"Seq", `{"type":"report","status":"seen","items":[{"dialogId":"C1","Seq":1}]}`, false},
	{"status first", `{"status":"seen","type":"report","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"seq first", `{"type":"report","status":"seen","items":[{"seq":1,"dialogId":"C1"}]}`, false},
	{"extra key", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1,"x":2}]}`, false},
	{"extra top key", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}],"text":"hi"}`, false},
	{"space after colon", `{"type": "report","status":"seen","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"space in items", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}, {"dialogId":"C1","seq":2}]}`, false},
	{"leading space", ` {"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"trailing newline", "{\"type\":\"report\",\"status\":\"seen\",\"items\":[{\"dialogId\":\"C1\",\"seq\":1}]}\n", false},
	{"trailing bytes", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}]}x`, false},
	{"two frames", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}]}{}`, false},
	{"trailing comma", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1},]}`, false},
	{"items unclosed", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}}`, false},
	{"status SEEN", `{"type":"report","status":"SEEN","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"status SKIPPED", `{"type":"report","status":"SKIPPED","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"type reports", `{"type":"reports","status":"seen","items":[{"dialogId":"C1","seq":1}]}`, false},
	{"item prefix in a later key", `{"type":"report","status":"seen","items":[{"dialogId":"C1","seq":1}],"x":"{\"dialogId\":\""}`, false},
}

// TestReportFastPath: on every hard case, and every prefix of a report,
// the fast path takes what it should, and what it takes it reads exactly
// as encoding/json and Check do; parseBrowserFrame's value and error are
// the general path's.
func TestReportFastPath(t *testing.T) {
	for _, tt := range reportCases {
		t.Run(tt.name, func(t *testing.T) {
			if took := checkReportFastPath(t, []byte(tt.in)); took != tt.fast {
				t.Errorf("fast path took it: %v, want %v", took, tt.fast)
			}
		})
	}
	t.Run("every prefix", func(t *testing.T) {
		whole := reportFrame("seen", 3)
		for i := range len(whole) {
			if checkReportFastPath(t, []byte(whole[:i])) {
				t.Errorf("fast path took the prefix %q", whole[:i])
			}
		}
	})
}

// FuzzReportFastPath: on any bytes, the fast path declines or reads what
// encoding/json and Check read.
func FuzzReportFastPath(f *testing.F) {
	for _, tt := range reportCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkReportFastPath(t, b) })
}

// checkReportFastPath holds the fast path to the general one on b and says
// whether it took b.
func checkReportFastPath(t *testing.T, b []byte) bool {
	t.Helper()
	got, err := parseBrowserFrame(b)
	want, wantErr := decodeBrowserFrame(b)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("parseBrowserFrame(%q) err = %v, general path's %v", b, err, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("parseBrowserFrame(%q) differs from the general path (-general +got):\n%s", b, diff)
	}
	fast, ok := parseReport(b)
	if !ok {
		return false
	}
	var plain browserFrame
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatalf("fast path took %q, which encoding/json refuses: %v", b, err)
	}
	if diff := cmp.Diff(plain, fast); diff != "" {
		t.Fatalf("fast path read %q otherwise than encoding/json (-json +fast):\n%s", b, diff)
	}
	if wantErr != nil {
		t.Fatalf("fast path took %q, which the general path refuses: %v", b, wantErr)
	}
	return true
}

// BenchmarkParseBrowserFrameReport: a report of one item and of ten, by
// the general path (encoding/json) and by parseBrowserFrame (the fast
// path), in one run.
func BenchmarkParseBrowserFrameReport(b *testing.B) {
	for _, n := range []int{1, 10} {
		frame := []byte(reportFrame("seen", n))
		for _, path := range []struct {
			name  string
			parse func([]byte) (browserFrame, error)
		}{{"general", decodeBrowserFrame}, {"fast", parseBrowserFrame}} {
			b.Run(fmt.Sprintf("items=%d/%s", n, path.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := path.parse(frame); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

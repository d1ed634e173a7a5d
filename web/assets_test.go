package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// jsBudget is the budget for the JavaScript the page ships, gzipped
// (docs/performance.md, Targets).
const jsBudget = 30 << 10

// uploadJSBudget is upload.js's part of it [ours].
const uploadJSBudget = 1536

// TestAssetsGzipped: every script and stylesheet the page names is served
// gzipped to a browser that takes it (and as is to one that does not),
// with Vary; the page's JavaScript, as shipped, fits the budget.
func TestAssetsGzipped(t *testing.T) {
	site := newSite(t)
	// Transport with compression off: the test sees the bytes on the wire.
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := hc.Get(site.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(u, encoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", site.URL+u, nil)
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	shipped := 0
	doc.Find("script[src], link[rel=stylesheet]").Each(func(_ int, s *goquery.Selection) {
		u := s.AttrOr("src", s.AttrOr("href", ""))
		plainResp, plain := fetch(u, "")
		if ce := plainResp.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s without Accept-Encoding: Content-Encoding %q", u, ce)
		}
		for _, enc := range []string{"gzip", "br, gzip;q=0.8", "gzip;q=0"} {
			resp, b := fetch(u, enc)
			if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s: no Vary: Accept-Encoding", u)
			}
			if enc == "gzip;q=0" {
				if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, plain) {
					t.Errorf("%s with %q: got an encoded body", u, enc)
				}
				continue
			}
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s with %q: Content-Encoding %q, want gzip", u, enc, resp.Header.Get("Content-Encoding"))
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, plain) {
				t.Errorf("%s: the gzipped body is not the file (%v)", u, err)
			}
			if enc == "gzip" && strings.HasSuffix(u, ".js") {
				shipped += len(b)
				if strings.Contains(u, "/upload.") && len(b) > uploadJSBudget {
					t.Errorf("upload.js ships %d bytes gzipped, budget %d", len(b), uploadJSBudget)
				}
			}
		}
	})
	if shipped == 0 || shipped > jsBudget {
		t.Errorf("the page ships %d bytes of JavaScript gzipped, budget %d", shipped, jsBudget)
	}
	t.Logf("JavaScript shipped: %d bytes gzipped (budget %d)", shipped, jsBudget)
}

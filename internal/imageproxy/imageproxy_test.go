package imageproxy

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Images of every allowed type, and what must not pass.
var (
	pngImage  = encode(func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
	jpegImage = encode(func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })
	gifImage  = encode(func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) })
	webpImage = []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + strings.Repeat("\x00", 24))
	avifImage = []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + strings.Repeat("\x00", 16))
	svgImage  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
	htmlPage  = []byte(`<!DOCTYPE html><html><body><script>alert(1)</script></body></html>`)
)

func encode(enc func(*bytes.Buffer, image.Image) error) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 2, 2))
	m.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := enc(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// origin is an image host on loopback (TLS), recording what it was asked.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	hits atomic.Int64
}

func newOrigin(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.reqs = append(o.reqs, r.Clone(context.Background()))
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.reqs...)
}

func (o *origin) addr(t *testing.T) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(o.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// testConfig is the production guard with one exception, the test's own
// image host (loopback), whose certificate is trusted.
func testConfig(t *testing.T, o *origin) Config {
	t.Helper()
	ok := o.addr(t)
	pool := x509.NewCertPool()
	pool.AddCert(o.Certificate())
	return Config{
		AllowAddr: func(ap netip.AddrPort) bool { return ap == ok || PublicAddr(ap.Addr()) },
		RootCAs:   pool,
	}
}

// images is the test image host: a path per case.
func images(t *testing.T) *origin {
	t.Helper()
	var o *origin
	serve := func(ct string, body []byte) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/a.png", serve("image/png", pngImage))
	mux.HandleFunc("/a.jpg", serve("image/jpeg", jpegImage))
	mux.HandleFunc("/a.gif", serve("image/gif", gifImage))
	mux.HandleFunc("/a.webp", serve("image/webp", webpImage))
	mux.HandleFunc("/a.avif", serve("image/avif", avifImage))
	mux.HandleFunc("/untyped", serve("application/octet-stream", pngImage))
	mux.HandleFunc("/a.svg", serve("image/svg+xml", svgImage))
	mux.HandleFunc("/page.png", serve("image/png", htmlPage))
	mux.HandleFunc("/missing.png", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "<h1>not here</h1>", http.StatusNotFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", fmt.Sprint(len(pngImage)+testMax))
		w.Write(pngImage)
		w.Write(make([]byte, testMax))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngImage)
		for range 8 {
			w.Write(make([]byte, testMax/4))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big-unannounced", func(w http.ResponseWriter, r *http.Request) {
		// HTTP/1.0 style: no length, no chunks, the body ends when the
		// connection does; the headers do not even hint at a size.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
		buf.Write(pngImage)
		buf.Write(make([]byte, 2*testMax))
		buf.Flush()
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", fmt.Sprint(2*len(pngImage)))
		w.Write(pngImage)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/set-cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "track", Value: "you"})
		http.Redirect(w, r, "/a.png", http.StatusFound)
	})
	o = newOrigin(t, mux.ServeHTTP)
	return o
}

// testMax is the tests' MaxBytes: small, so oversize bodies stay cheap.
const testMax = 64 << 10

func TestFetch(t *testing.T) {
	o := images(t)
	cfg := testConfig(t, o)
	cfg.MaxBytes = testMax
	cfg.Timeout = 500 * time.Millisecond
	cfg.HeaderTimeout = 300 * time.Millisecond
	cfg.CacheBytes = -1
	p := New(cfg)
	other := images(t) // a second host on loopback, not allowed
	tests := []struct {
		name string
		path string // on o; or a whole URL
		want Image
		err  error
	}{
		{"png", "/a.png", Image{pngImage, "image/png"}, nil},
		{"jpeg", "/a.jpg", Image{jpegImage, "image/jpeg"}, nil},
		{"gif", "/a.gif", Image{gifImage, "image/gif"}, nil},
		{"webp", "/a.webp", Image{webpImage, "image/webp"}, nil},
		{"avif", "/a.avif", Image{avifImage, "image/avif"}, nil},
		{"typed by sniffing, not by the remote", "/untyped", Image{pngImage, "image/png"}, nil},
		{"a redirect on the host", "/redirect?to=/a.png", Image{pngImage, "image/png"}, nil},
		{"svg", "/a.svg", Image{}, ErrNotImage},
		{"html called png", "/page.png", Image{}, ErrNotImage},
		{"not found", "/missing.png", Image{}, ErrUpstream},
		{"announced oversize", "/big", Image{}, ErrTooLarge},
		{"chunked oversize", "/big-chunked", Image{}, ErrTooLarge},
		{"unannounced oversize", "/big-unannounced", Image{}, ErrTooLarge},
		{"slow body", "/slow-body", Image{}, ErrTimeout},
		{"slow headers", "/slow-headers", Image{}, ErrTimeout},
		{"plain http", "http://" + o.Listener.Addr().String() + "/a.png", Image{}, ErrRefused},
		{"credentials", "https://u:p@" + o.Listener.Addr().String() + "/a.png", Image{}, ErrRefused},
		{"not a URL", "https://%zz/", Image{}, ErrRefused},
		{"redirect to plain http", "/redirect?to=" + url.QueryEscape("http://"+o.Listener.Addr().String()+"/a.png"), Image{}, ErrRefused},
		{"redirect to another loopback host", "/redirect?to=" + url.QueryEscape(other.URL+"/a.png"), Image{}, ErrRefused},
		{"redirect to a private address", "/redirect?to=" + url.QueryEscape("https://10.0.0.1/a.png"), Image{}, ErrRefused},
		{"redirect to the metadata service", "/redirect?to=" + url.QueryEscape("https://169.254.169.254/latest/"), Image{}, ErrRefused},
		{"redirect to localhost", "/redirect?to=" + url.QueryEscape("https://localhost:"+fmt.Sprint(other.addr(t).Port())+"/a.png"), Image{}, ErrRefused},
		{"redirect loop", "/loop", Image{}, ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.path
			if strings.HasPrefix(u, "/") {
				u = o.URL + u
			}
			got, err := p.Fetch(t.Context(), u)
			if !errors.Is(err, tt.err) || (err != nil) != (tt.err != nil) {
				t.Fatalf("Fetch = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("image (-want +got):\n%s", diff)
			}
		})
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the host not allowed was asked %d times", n)
	}
}

// TestFetchPublicOnly: with the production guard, an image host on a
// loopback address is never connected to, whether named by its address
// or by a name that resolves to it.
func TestFetchPublicOnly(t *testing.T) {
	o := images(t)
	cfg := testConfig(t, o)
	cfg.AllowAddr = nil
	p := New(cfg)
	port := fmt.Sprint(o.addr(t).Port())
	for _, u := range []string{o.URL + "/a.png", "https://localhost:" + port + "/a.png", "https://[::ffff:127.0.0.1]:" + port + "/a.png"} {
		if _, err := p.Fetch(t.Context(), u); !errors.Is(err, ErrRefused) {
			t.Errorf("Fetch(%s) = %v, want ErrRefused", u, err)
		}
	}
	if n := o.hits.Load(); n != 0 {
		t.Errorf("the loopback host was asked %d times", n)
	}
}

// TestFetchSendsNothingOfTheCustomer: a fetch carries a fixed User-Agent
// and no cookie, no referrer, nothing else of anyone's: a cookie the remote
// sets on a redirect is not sent back, and the redirect names no page.
func TestFetchSendsNothingOfTheCustomer(t *testing.T) {
	o := images(t)
	p := New(testConfig(t, o))
	if _, err := p.Fetch(t.Context(), o.URL+"/set-cookie"); err != nil {
		t.Fatal(err)
	}
	reqs := o.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want the redirect and the image", len(reqs))
	}
	for _, r := range reqs {
		got := map[string]string{}
		for k := range r.Header {
			got[k] = r.Header.Get(k)
		}
		// Connection: close is the proxy's own (a connection per fetch).
		want := map[string]string{"User-Agent": UserAgent, "Accept": strings.Join(Types, ","), "Connection": "close"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s headers (-want +got):\n%s", r.URL, diff)
		}
	}
}

// TestFetchCache: an image is fetched once for everyone who asks for it
// (at the same time or later), until it is older than CacheTTL; a failure
// is kept for ErrorTTL.
func TestFetchCache(t *testing.T) {
	release := make(chan struct{})
	var missing atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing.png" {
			missing.Add(1)
			http.NotFound(w, r)
			return
		}
		<-release
		w.Write(pngImage)
	})
	clock := testclock.New(time.Unix(1700000000, 0))
	cfg := testConfig(t, o)
	cfg.Now = clock.Now
	p := New(cfg)

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			img, err := p.Fetch(t.Context(), o.URL+"/a.png")
			if err == nil && !bytes.Equal(img.Body, pngImage) {
				err = errors.New("wrong image")
			}
			errs <- err
		})
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := p.Fetch(t.Context(), o.URL+"/a.png"); err != nil {
		t.Fatal(err)
	}
	if n := o.hits.Load(); n != 1 {
		t.Errorf("11 fetches asked the host %d times, want 1", n)
	}
	clock.Advance(11 * time.Minute)
	if _, err := p.Fetch(t.Context(), o.URL+"/a.png"); err != nil {
		t.Fatal(err)
	}
	if n := o.hits.Load(); n != 2 {
		t.Errorf("after CacheTTL the host was asked %d times in all, want 2", n)
	}

	for range 2 {
		if _, err := p.Fetch(t.Context(), o.URL+"/missing.png"); !errors.Is(err, ErrUpstream) {
			t.Fatalf("missing image: %v", err)
		}
	}
	if n := missing.Load(); n != 1 {
		t.Errorf("a missing image was asked for %d times, want 1", n)
	}
	clock.Advance(61 * time.Second)
	if _, err := p.Fetch(t.Context(), o.URL+"/missing.png"); !errors.Is(err, ErrUpstream) {
		t.Fatalf("missing image: %v", err)
	}
	if n := missing.Load(); n != 2 {
		t.Errorf("after ErrorTTL a missing image was asked for %d times in all, want 2", n)
	}
}

// TestFetchBusy: fetches beyond MaxConcurrent wait for a slot; one whose
// caller gives up first is ErrBusy and asks nothing.
func TestFetchBusy(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold.png" {
			started <- struct{}{}
			<-release
		}
		w.Write(pngImage)
	})
	cfg := testConfig(t, o)
	cfg.MaxConcurrent = 1
	p := New(cfg)
	held := make(chan error, 1)
	go func() { // ends once release is closed
		_, err := p.Fetch(context.Background(), o.URL+"/hold.png")
		held <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Fetch(ctx, o.URL+"/a.png"); !errors.Is(err, ErrBusy) {
		t.Errorf("a fetch while the only slot is taken = %v, want ErrBusy", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(t.Context(), o.URL+"/a.png"); err != nil {
		t.Errorf("once the slot is free: %v", err)
	}
	if n := o.hits.Load(); n != 2 {
		t.Errorf("the host was asked %d times, want 2", n)
	}
}

func TestPublicAddr(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"100.64.0.1", false},
		{"192.0.0.8", false},
		{"198.18.0.1", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},
		{"64:ff9b::a00:1", false},
		{"2002:a00:1::1", false},
		{"2001::1", false},
		{"2001:db8::1", false},
		{"fec0::1", false},
	} {
		if got := PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte
		want string
	}{
		{"png", pngImage, "image/png"},
		{"jpeg", jpegImage, "image/jpeg"},
		{"gif", gifImage, "image/gif"},
		{"webp", webpImage, "image/webp"},
		{"avif", avifImage, "image/avif"},
		{"avif as a compatible brand", []byte("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00avifmiaf"), "image/avif"},
		{"mp4", []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), ""},
		{"ftyp box larger than the body", []byte("\x00\x00\x01\x00ftypavif\x00\x00\x00\x00"), ""},
		{"svg", svgImage, ""},
		{"html", htmlPage, ""},
		{"bmp", []byte("BM" + strings.Repeat("\x00", 30)), ""},
		{"icon", []byte("\x00\x00\x01\x00\x01\x00" + strings.Repeat("\x00", 30)), ""},
		{"empty", nil, ""},
	} {
		if got := sniff(tt.body); got != tt.want {
			t.Errorf("%s: sniff = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Package imageproxy fetches the images of agents' cards for the chat
// window, so that the customer's browser loads them from the window's own
// origin and never tells another host who is chatting, from where, or when
// (docs/richcontent.md). It fetches https images from public addresses
// only, checked on the address actually connected to; it passes on raster
// images only, as sniffed, bounded in size and time; it keeps what it
// fetched for a while. It knows nothing of HTTP serving: the web layer
// signs the URLs it renders and serves what Fetch returns.
package imageproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// UserAgent is what every fetch says it is: the same for every customer,
// so the remote learns nothing of theirs.
const UserAgent = "chatwindow-image-proxy/1"

// Config is the proxy's configuration; the zero value is the production
// one.
type Config struct {
	// AllowAddr says whether a fetch may connect to an address (after the
	// name is resolved, for every address tried, redirects included).
	// Nil: public addresses only (PublicAddr). Tests that serve images on
	// loopback allow their own server's address here.
	AllowAddr func(netip.AddrPort) bool
	// RootCAs verify the remote's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// MaxBytes bounds an image (0: 5 MiB), counted as it is read.
	MaxBytes int64
	// DialTimeout bounds the connection and, apart, its TLS handshake
	// (0: 3 s); HeaderTimeout bounds the wait for the answer's headers
	// (0: 5 s); Timeout bounds the whole fetch, redirects and body
	// included, and, apart, the wait for a free fetch slot (0: 10 s).
	DialTimeout, HeaderTimeout, Timeout time.Duration
	// MaxRedirects bounds the redirects followed (0: 3; negative: none).
	MaxRedirects int
	// MaxConcurrent bounds the fetches under way at once (0: 8).
	MaxConcurrent int
	// CacheBytes bounds the images kept (0: 32 MiB; negative: none kept);
	// CacheTTL is how long one is kept (0: 10 minutes), ErrorTTL how long
	// a failed fetch is (0: 1 minute; ErrBusy is never kept).
	CacheBytes         int64
	CacheTTL, ErrorTTL time.Duration
	// Now is the cache's clock (nil: time.Now).
	Now func() time.Time
}

// Errors of Fetch; every error it returns wraps one of them.
var (
	// ErrRefused: the URL or an address it leads to is not fetched (not
	// https, credentials in it, a non-public address, too many redirects).
	ErrRefused = errors.New("imageproxy: refused")
	// ErrUpstream: the remote could not be reached or did not answer 200.
	ErrUpstream = errors.New("imageproxy: remote failed")
	// ErrNotImage: what the remote sent is not one of Types.
	ErrNotImage = errors.New("imageproxy: not an image of an allowed type")
	// ErrTooLarge: the image is larger than MaxBytes.
	ErrTooLarge = errors.New("imageproxy: image too large")
	// ErrTimeout: the fetch took longer than one of the timeouts.
	ErrTimeout = errors.New("imageproxy: timed out")
	// ErrBusy: no fetch slot came free within Timeout, or before the
	// caller's context ended.
	ErrBusy = errors.New("imageproxy: too many fetches")
)

// Image is a fetched image.
type Image struct {
	Body []byte
	// ContentType is the sniffed type, one of Types.
	ContentType string
}

// Proxy fetches images. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	client *http.Client
	slots  chan struct{}
	cache  *cache

	mu       sync.Mutex
	inflight map[string]*call
}

// call is one fetch under way, shared by everyone asking for its URL.
type call struct {
	done chan struct{} // closed when img and err are set
	img  Image
	err  error
}

// New returns a proxy for cfg.
func New(cfg Config) *Proxy {
	if cfg.AllowAddr == nil {
		cfg.AllowAddr = allowPublic
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 5 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 3 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = 3
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 8
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 32 << 20
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Minute
	}
	if cfg.ErrorTTL <= 0 {
		cfg.ErrorTTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, Control: dialGuard(cfg.AllowAddr)}
	transport := &http.Transport{
		// Never through a proxy of the environment: the guard must see the
		// address connected to.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.DialTimeout,
		ResponseHeaderTimeout:  cfg.HeaderTimeout,
		MaxResponseHeaderBytes: 16 << 10,
		// Images are compressed already; a gzipped body would only be a
		// smaller wire size for the same bounded read.
		DisableCompression: true,
		// A connection per fetch: fetches of one host are rare (the cache
		// answers repeats), and no idle connection to a stranger's host
		// outlives its fetch.
		DisableKeepAlives: true,
	}
	maxRedirects := max(cfg.MaxRedirects, 0)
	client := &http.Client{
		Transport: transport,
		// No Jar: no cookie is kept or sent, redirects included.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrRefused, maxRedirects)
			}
			if err := checkURL(req.URL); err != nil {
				return err
			}
			// net/http names the page redirected from; the remote learns
			// nothing of where its image is shown or fetched through.
			req.Header.Del("Referer")
			return nil
		},
	}
	return &Proxy{
		cfg:      cfg,
		client:   client,
		slots:    make(chan struct{}, cfg.MaxConcurrent),
		cache:    newCache(cfg.CacheBytes, cfg.CacheTTL, cfg.ErrorTTL, cfg.Now),
		inflight: map[string]*call{},
	}
}

// Fetch returns the image at rawURL (or why there is none): from the
// cache, from a fetch of the same URL under way, or fetched now. A fetch, once started, runs to its
// end (at most Timeout) even when ctx ends: others may be waiting for it,
// and its image is kept.
func (p *Proxy) Fetch(ctx context.Context, rawURL string) (Image, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err := checkURL(u); err != nil {
		return Image{}, err
	}
	key := u.String()
	if img, err, ok := p.cache.get(key); ok {
		return img, err
	}
	p.mu.Lock()
	c, ok := p.inflight[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		p.inflight[key] = c
	}
	p.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.img, c.err
		case <-ctx.Done():
			return Image{}, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
	}
	c.img, c.err = p.fetch(ctx, key)
	if !errors.Is(c.err, ErrBusy) {
		p.cache.put(key, c.img, c.err)
	}
	p.mu.Lock()
	delete(p.inflight, key)
	p.mu.Unlock()
	close(c.done)
	return c.img, c.err
}

// fetch gets u's image once a fetch slot is free: it waits for one while
// ctx lasts, at most Timeout, and then fetches within Timeout, whether ctx
// ends or not.
func (p *Proxy) fetch(ctx context.Context, u string) (Image, error) {
	wait, stopWaiting := context.WithTimeout(ctx, p.cfg.Timeout)
	select {
	case p.slots <- struct{}{}:
		stopWaiting()
		defer func() { <-p.slots }()
	case <-wait.Done():
		stopWaiting()
		return Image{}, fmt.Errorf("%w: %s", ErrBusy, u)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	// Only these: nothing of the customer's request (cookies, language,
	// agent, referrer) is passed on.
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", strings.Join(Types, ","))
	resp, err := p.client.Do(req)
	if err != nil {
		return Image{}, classify(u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Image{}, fmt.Errorf("%w: %s answered %s", ErrUpstream, u, resp.Status)
	}
	// The announced length only refuses early; the read is bounded
	// whatever the remote announced (or if it announced nothing).
	if resp.ContentLength > p.cfg.MaxBytes {
		return Image{}, fmt.Errorf("%w: %s announces %d bytes", ErrTooLarge, u, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxBytes+1))
	if err != nil {
		return Image{}, classify(u, err)
	}
	if int64(len(body)) > p.cfg.MaxBytes {
		return Image{}, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, u, p.cfg.MaxBytes)
	}
	ct := sniff(body)
	if ct == "" {
		return Image{}, fmt.Errorf("%w: %s is %s", ErrNotImage, u, http.DetectContentType(body))
	}
	return Image{Body: body, ContentType: ct}, nil
}

// checkURL refuses what is not fetched at all: anything but https to a
// named host, credentials.
func checkURL(u *url.URL) error {
	if u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q (https only)", ErrRefused, u.Scheme)
	}
	if u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("%w: %s", ErrRefused, u.Redacted())
	}
	return nil
}

// classify wraps a failed request or read in the error it counts as.
func classify(u string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, ErrRefused):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %s: %w", ErrTimeout, u, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUpstream, u, err)
}

package connlimit

import (
	"net/http"
	"strings"
	"time"
)

// Defaults proposed for the flags.
const (
	// DefaultBodyTimeout bounds reading a request's body: the largest the
	// servers take is 64 KiB (web's body limit), 4 KiB/s for 15 s; forms
	// are a few hundred bytes.
	DefaultBodyTimeout = 15 * time.Second
	// DefaultResponseTimeout bounds the handler and its response together
	// (a write deadline counts from the handler's start): it must outlast
	// the slowest handler, a sign-in or a first page that waits on the
	// messaging service (15 s per call), and the largest response (htmx,
	// 51 KiB) to a slow phone.
	DefaultResponseTimeout = 60 * time.Second
)

// Deadlines returns next with deadlines on each request's connection:
// reading the body must end within body of the handler's start, and
// writing the response within response of it (0: none). Past them, reads
// and writes fail with a timeout (os.ErrDeadlineExceeded), the handler
// ends, and net/http closes the connection. http.Server's
// ReadHeaderTimeout bounds what comes before the body and its IdleTimeout
// what comes after the response; its ReadTimeout and WriteTimeout would
// put deadlines on every request alike, sockets and bodiless requests
// included, which the two exceptions below keep clear of.
//
// A WebSocket upgrade gets no deadline: its connection, once hijacked,
// lives as long as the socket does (its pings find a dead peer). net/http
// happens to clear a connection's deadlines when it is hijacked, but
// http.Hijacker's documentation leaves that to the caller (the socket
// library does not), so none is set here in the first place. Which
// requests are upgrades: see isUpgrade.
//
// A bodiless request gets no read deadline: it has nothing to trickle,
// and net/http is already reading its connection in the background to
// notice the client leaving; a deadline there would cancel the request's
// context while its handler waits on something slow.
func Deadlines(next http.Handler, body, response time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		// Errors are ignored: a ResponseWriter without deadlines
		// (httptest.ResponseRecorder) has no connection to hold.
		rc := http.NewResponseController(w)
		start := time.Now()
		if body > 0 && r.ContentLength != 0 { // -1: chunked, unknown length
			_ = rc.SetReadDeadline(start.Add(body))
		}
		if response > 0 {
			_ = rc.SetWriteDeadline(start.Add(response))
		}
		next.ServeHTTP(w, r)
	})
}

// isUpgrade reports whether r is a WebSocket handshake as RFC 6455 and
// coder/websocket's Accept have it: a GET without a body whose Connection
// header lists "upgrade" and whose Upgrade header lists "websocket" (any
// case, any header line). A POST or a body with those headers is not one:
// it would otherwise trickle its body past every deadline.
func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ContentLength == 0 &&
		hasToken(r.Header, "Connection", "upgrade") &&
		hasToken(r.Header, "Upgrade", "websocket")
}

// hasToken reports whether a comma-separated list in h's key lists token.
func hasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Package pageclient is a client of the chat window's page protocol,
// without a browser: it loads the window (GET /, the session cookie), opens
// the window's socket (/ws) from the window's own origin, applies the htmx
// fragments the server sends to a model of the page exactly as htmx's ws
// extension applies them to the DOM (every top-level element swapped out of
// band), and reports what chat.js reports: "delivered" for every agent
// bubble in the page, and "seen" for those in front of the customer. The
// fault test and the many-nodes test (cmd/chatwindow) use it to play many
// customers' tabs. It is test support: only _test.go files import it (the
// load generator, cmd/chatload, plays its tabs with a lighter client of its
// own: docs/performance.md).
//
// What it does like the browser, so that what it finds is what a customer
// would see:
//   - hx-swap-oob="true" replaces every element with that id (an element
//     whose id is not in the page is dropped, as htmx does);
//     "beforeend:#messages" appends the fragment's children;
//     "innerHTML" replaces the children of the element with that id.
//   - Every agent bubble inserted (a new element, also one that replaced an
//     older copy of itself) is reported delivered, and seen once the tab
//     has been visible and focused for the dwell, in one batch per frame
//     received (chat.js batches per task), of at most 200 items a report
//     frame (see maxItems). Reports of bubbles that arrived before the
//     socket opened are not sent (chat.js has no socket yet then): the
//     window the socket sends replaces them.
//   - Tabs of one Browser share its cookies, its focus (at most one tab has
//     it) and, with BrowserOptions.Locks, chat.js's delivery lock: only the
//     holder reports (see Browser).
//   - Frames sent while the socket is down wait and go out when it is back
//     (the ws extension queues them; with the lock, reports do not wait:
//     they go now or never, as in chat.js); the socket reconnects, with
//     full-jitter back-off, after the closes htmx reconnects after (1006,
//     1012, 1013) and after Drop.
//
// It does not model scrolling: a tab in front of the customer shows every
// bubble. Open is a tab in a browser of its own, without locks and with no
// dwell: tabs opened with Open and one jar all report, as before the
// Browser existed.
package pageclient

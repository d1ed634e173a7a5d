// Package messaging is the client of LivePerson's Messaging Window API and
// of the embedded service that speaks it: discovery through the domain API
// (Discover), tokens (Signup, Authenticate, Login), one socket with
// requests matched to responses (Conn), and reconnecting sessions for the
// two roles (Consumer, and Agent in the agent API's dialect).
//
// A session keeps one socket up: on a lost socket it waits a full-jitter
// back-off and reconnects; on a refused token (handshake 401, a request
// answered 401, close 4401 or 4407) it asks its TokenSource for a fresh
// one, a bounded number of times in a row. Classify tells every caller
// what a failure calls for: retry, refresh the token, or give up. After every connect it restores what the caller asked for
// (subscriptions, agent state) and catches up: the consumer re-subscribes
// each followed dialog from the sequence after the last one delivered; the
// agent queries each dialog's messages from there. Events are deduplicated
// by sequence, so across reconnects none is lost or delivered twice.
//
// Everything a session receives arrives on one channel, Updates, in order.
// Backpressure: when the reader falls behind, delivery waits; the socket is
// still read (so responses to requests keep flowing) into a bounded queue,
// and if that fills up the socket is dropped and the session reconnects and
// catches up. A slow reader therefore loses nothing and costs bounded
// memory. Requests fail fast with ErrNotConnected while no socket is open;
// responses with code >= 400 are *protocol.Error.
package messaging

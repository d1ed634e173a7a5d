package pagesocket

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
)

// A page socket's buffers. net/http hands a hijacked connection over with
// a 4 KiB reader and a 4 KiB writer, and coder/websocket keeps both for the
// connection's life: 8 KiB of every idle page (docs/performance.md,
// Memory). A page's frames are small (its reports and sends fit in
// readBuffer, a message's fragment in writeBuffer); a larger one costs one
// more syscall, as bufio reads and writes past a full buffer directly.
const (
	readBuffer  = 1 << 10
	writeBuffer = 2 << 10
)

// smallBuffers is a response whose hijacked connection comes with
// readBuffer and writeBuffer instead of net/http's buffers.
type smallBuffers struct{ http.ResponseWriter }

// Unwrap lets http.ResponseController reach the response underneath.
func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over with small buffers. What the page sent
// behind its upgrade request and net/http has already read stays buffered
// (it is read first); what net/http had yet to write (the upgrade's
// answer) is written first.
func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("flush before the upgrade: %w", err)
	}
	br := bufio.NewReaderSize(conn, readBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		// Buffered in the new reader, not only ahead of it: coder/websocket
		// keeps what a hijacked reader has buffered and reads the
		// connection after that.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(readBuffer, n))
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("keep what was read before the upgrade: %w", err)
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, writeBuffer)), nil
}

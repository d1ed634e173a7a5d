package wsconn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Response is what websocket.Accept takes for its http.ResponseWriter when
// the connection it hijacks should come with other buffers than net/http's
// (a 4 KiB reader and a 4 KiB writer, which coder/websocket keeps for the
// connection's life), or write through a Batch.
type Response struct {
	http.ResponseWriter
	// ReadBuffer and WriteBuffer are the sizes of the connection's reader
	// and writer; 0 keeps net/http's. A frame larger than a buffer costs
	// one more syscall: bufio reads and writes past a full buffer directly.
	ReadBuffer, WriteBuffer int
	// Batch, if set, is where the writer writes (it writes to the
	// connection). Set its W to nothing: Hijack does.
	Batch *Batch
}

// Unwrap lets http.ResponseController reach the response underneath.
func (w Response) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over with the buffers asked for. What the
// peer sent behind its upgrade request and net/http has already read stays
// buffered (it is read first); what net/http had yet to write (the
// upgrade's answer) is written first.
func (w Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("flush before the upgrade: %w", err)
	}
	br := brw.Reader
	if w.ReadBuffer > 0 {
		br = bufio.NewReaderSize(conn, w.ReadBuffer)
		if n := brw.Reader.Buffered(); n > 0 {
			// Buffered in the new reader, not only ahead of it:
			// coder/websocket keeps what a hijacked reader has buffered
			// and reads the connection after that.
			b, _ := brw.Reader.Peek(n)
			br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(w.ReadBuffer, n))
			if _, err := br.Peek(n); err != nil {
				conn.Close()
				return nil, nil, fmt.Errorf("keep what was read before the upgrade: %w", err)
			}
		}
	}
	var to io.Writer = conn
	if w.Batch != nil {
		w.Batch.w = conn
		to = w.Batch
	}
	bw := brw.Writer
	switch {
	case w.WriteBuffer > 0:
		bw = bufio.NewWriterSize(to, w.WriteBuffer)
	case w.Batch != nil:
		bw.Reset(to) // flushed above: nothing is lost
	}
	return conn, bufio.NewReadWriter(br, bw), nil
}

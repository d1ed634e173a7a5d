package messaging

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// PublishWithMetadata is Publish with the request's optional metadata array
// (docs/protocol.md, Frames): the answer to structured content carries the
// clicked element's metadata, on the ACTION receipt and on the text it
// publishes (docs/richcontent.md). Nil metadata is a plain Publish.
func (c *Consumer) PublishWithMetadata(ctx context.Context, dialogID, conversationID string, ev protocol.Event, metadata json.RawMessage) (int64, error) {
	if len(metadata) == 0 {
		return c.Publish(ctx, dialogID, conversationID, ev)
	}
	conn, err := c.conn()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", protocol.TypePublishEvent, err)
	}
	f, err := protocol.NewRequest("", protocol.TypePublishEvent, protocol.PublishEvent{DialogID: dialogID, ConversationID: conversationID, Event: ev})
	if err != nil {
		return 0, err
	}
	f.Metadata = metadata
	resp, err := conn.RoundTrip(ctx, f)
	if err != nil {
		return 0, err
	}
	if err := resp.ResponseError(); err != nil {
		return 0, fmt.Errorf("%s: %w", protocol.TypePublishEvent, err)
	}
	var out protocol.PublishEventResponse
	if err := resp.DecodeBody(&out); err != nil {
		return 0, fmt.Errorf("%s response: %w", protocol.TypePublishEvent, err)
	}
	return out.Sequence, nil
}

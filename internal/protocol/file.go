package protocol

import (
	"bytes"
	"encoding/json"
)

// File sharing (docs/protocol.md, Files): a file is uploaded to the
// storage behind a signed URL the messaging service hands out, then shared
// as a ContentEvent whose message is an object naming it.

// The file requests (on the consumer and the agent socket) and their
// answer's type (API Reference, Generate Upload URL; the tutorials print
// ms.BaseGenerateURLResponse).
const (
	TypeGenerateURLForUploadFile   = "ms.GenerateURLForUploadFile"
	TypeGenerateURLForDownloadFile = "ms.GenerateURLForDownloadFile"
	TypeGenerateURLResponse        = "ms.GenerateURLResponse"
)

// ContentTypeHostedFile is the contentType of a shared file's ContentEvent
// (File Sharing, Step 5; node-agent-sdk's README).
const ContentTypeHostedFile = "hosted/file"

// contentTypeHostedFileSchema is the same content type as schema
// ms/HostedFile.json spells its default.
const contentTypeHostedFileSchema = "HostedFile"

// IsHostedFile reports whether a ContentEvent's contentType is a shared
// file's, in either of LivePerson's spellings.
func IsHostedFile(contentType string) bool {
	return contentType == ContentTypeHostedFile || contentType == contentTypeHostedFileSchema
}

// HostedFile is the message of a hosted/file ContentEvent (schema
// ms/HostedFile.json): where the file is in storage (relativePath, from
// GenerateURLForUploadFile), its type, a caption and an optional preview
// (the tutorials send a base64 data URL of a small image).
type HostedFile struct {
	Caption      string `json:"caption"`
	RelativePath string `json:"relativePath"`
	FileType     string `json:"fileType"`
	Preview      string `json:"preview,omitempty"`
}

// decodeHostedFile decodes a message object as a HostedFile when every
// field it has of the four is a string (or null); false otherwise, and the
// caller keeps the message as it came, so that nothing is lost.
func decodeHostedFile(msg json.RawMessage) (*HostedFile, bool) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(msg, &in); err != nil {
		return nil, false
	}
	var f HostedFile
	for name, dst := range map[string]*string{
		"caption": &f.Caption, "relativePath": &f.RelativePath, "fileType": &f.FileType, "preview": &f.Preview,
	} {
		raw := bytes.TrimSpace(in[name])
		if len(nullToNil(raw)) == 0 {
			continue
		}
		if raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
			return nil, false
		}
	}
	return &f, true
}

// GenerateURLForUploadFile is the body of ms.GenerateURLForUploadFile
// (schema ms/GenerateURLForUploadFileBody.json). fileSize is a string in
// the schema and a number in the tutorials: both decode, and it encodes as
// the schema's string.
type GenerateURLForUploadFile struct {
	FileSize ID     `json:"fileSize"`
	FileType string `json:"fileType"`
}

// GenerateURLForDownloadFile is the body of ms.GenerateURLForDownloadFile
// (schema ms/GenerateURLForDownloadFileBody.json).
type GenerateURLForDownloadFile struct {
	RelativePath string `json:"relativePath"`
}

// GenerateURLResponse is the answer to both (schema
// ms/GenerateURLRespBody.json): the file's path in storage and the
// signature and expiry (Unix seconds) to add to it as query parameters.
type GenerateURLResponse struct {
	RelativePath string        `json:"relativePath"`
	QueryParams  TempURLParams `json:"queryParams"`
}

// TempURLParams are a storage URL's query parameters. temp_url_expires is
// a string in the schema; a number decodes too.
type TempURLParams struct {
	TempURLSig     string `json:"temp_url_sig"`
	TempURLExpires ID     `json:"temp_url_expires"`
}

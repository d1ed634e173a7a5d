package simulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// File sharing (docs/simulator.md, Files): GenerateURLForUploadFile hands
// out a signed URL of the service's own storage (storage.go), the client
// PUTs the bytes there, publishes a hosted/file ContentEvent naming the
// file's relativePath, and any participant asks GenerateURLForDownloadFile
// for a signed URL to GET it.

// Limits of File Sharing (Step 3: "Each file can be up to 3MB and the
// preview must be under 30KB"), read as MiB and KiB [ours].
const (
	maxFileBytes    = 3 << 20
	maxPreviewBytes = 30 << 10
	// maxPendingFiles bounds the upload URLs handed out and not used yet
	// (each lives FileURLTTL) [ours].
	maxPendingFiles = 10_000
)

// storageContainer is where every relativePath lies, as in the tutorials'
// answers: /v1/AUTH_async-images/{account}/{name}.{TYPE}.
const storageContainer = "/v1/AUTH_async-images/"

// The fileTypes GenerateURLForUploadFile takes are internal/filetype's
// (with JPEG, its other spelling of JPG): the images of File Sharing, Step
// 3, and of schema ms/GenerateURLForUploadFileBody.json, and the documents
// (PDF, DOCX, XLSX, PPTX) that LivePerson's Mobile App SDK's Photo and
// File Sharing lets consumers and agents share both ways. The stored bytes
// must be that type, and are served as it.

// sharedTypes are the fileTypes a hosted/file message may name: schema
// ms/HostedFile.json's, JPEG, which node-agent-sdk's example and the
// Connector API's publish, and the documents of Photo and File Sharing.
// The shared type is not compared with the uploaded one: the Connector
// API's example uploads a PNG and shares it as JPEG.
var sharedTypes = map[string]bool{"IMG": true, "JPG": true, "JPEG": true, "PNG": true, "GIF": true, "TXT": true, "PDF": true,
	"DOCX": true, "XLSX": true, "PPTX": true}

// storedFile is one relativePath the service issued: who asked for it,
// what was announced, and once uploaded the bytes.
type storedFile struct {
	path     string
	owner    member // the consumer or agent that asked for the upload URL
	fileType string
	size     int64     // the announced fileSize: the upload must be exactly this
	uploadBy time.Time // the upload URL's expiry
	data     []byte    // nil until uploaded
	// shared: published in a conversation (its bytes are fixed from then
	// on); consumers are the consumers of those conversations, who may
	// download it too.
	shared    bool
	consumers map[string]bool
}

// fileStore holds the files in memory, bounded by limit bytes. It has its
// own lock, so that uploads and downloads never wait for the service's;
// the service's lock, when held, is taken first.
type fileStore struct {
	key        []byte // signs the temporary URLs
	limit      int64
	ttl        time.Duration
	now        func() time.Time
	maxPending int // maxPendingFiles; tests lower it

	mu      sync.Mutex
	files   map[string]*storedFile
	pending []*storedFile // issued and not uploaded, oldest first
	used    int64
}

func newFileStore(limit int64, ttl time.Duration, now func() time.Time) *fileStore {
	return &fileStore{key: []byte(randomToken()), limit: limit, ttl: ttl, now: now, maxPending: maxPendingFiles, files: map[string]*storedFile{}}
}

// sign is a temporary URL's signature: the hex HMAC-SHA1 of the method,
// the expiry and the path, the shape of OpenStack Swift's temp_url_sig
// (40 hex digits, as in the tutorials' answers). HMAC-SHA1 is still a
// sound MAC; the method in it keeps an upload URL from downloading and a
// download URL from overwriting.
func (fs *fileStore) sign(method, path string, expires int64) string {
	m := hmac.New(sha1.New, fs.key)
	fmt.Fprintf(m, "%s\n%d\n%s", method, expires, path)
	return hex.EncodeToString(m.Sum(nil))
}

// tempURL is the answer to both requests: the path, signed for method
// until Now + ttl.
func (fs *fileStore) tempURL(method, path string) protocol.GenerateURLResponse {
	exp := fs.now().Add(fs.ttl).Unix()
	return protocol.GenerateURLResponse{RelativePath: path, QueryParams: protocol.TempURLParams{
		TempURLSig: fs.sign(method, path, exp), TempURLExpires: protocol.ID(strconv.FormatInt(exp, 10)),
	}}
}

// issue records a new relativePath for owner and returns its upload URL;
// the code is 429 when too many upload URLs are waiting.
func (fs *fileStore) issue(path, fileType string, size int64, owner member) (protocol.GenerateURLResponse, int, string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	now := fs.now()
	fs.prunePending(now)
	if len(fs.pending) >= fs.maxPending {
		return protocol.GenerateURLResponse{}, 429, "too many uploads waiting: try again in a minute"
	}
	f := &storedFile{path: path, owner: owner, fileType: fileType, size: size, uploadBy: now.Add(fs.ttl), consumers: map[string]bool{}}
	fs.files[path] = f
	fs.pending = append(fs.pending, f)
	return fs.tempURL("PUT", path), 0, ""
}

// prunePending forgets the paths whose upload URL expired unused. They
// expire in the order they were issued.
func (fs *fileStore) prunePending(now time.Time) {
	n := 0
	for n < len(fs.pending) && !now.Before(fs.pending[n].uploadBy) {
		if f := fs.pending[n]; f.data == nil {
			delete(fs.files, f.path)
		}
		n++
	}
	fs.pending = fs.pending[n:]
}

// sameMember reports whether a and b are the same participant, whatever
// their roles.
func sameMember(a, b member) bool {
	if a.agent != nil || b.agent != nil {
		return a.agent == b.agent
	}
	return a.consumerID == b.consumerID
}

// checkShare checks that from may share the file at path: one issued to
// them and uploaded.
func (fs *fileStore) checkShare(path string, from member) (int, string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.files[path]
	if f == nil || !sameMember(f.owner, from) {
		return 400, fmt.Sprintf("relativePath %q is not a file this service issued to you", path)
	}
	if f.data == nil {
		return 400, fmt.Sprintf("nothing was uploaded to relativePath %q", path)
	}
	return 0, ""
}

// share marks the file at path published in a conversation of consumerID.
func (fs *fileStore) share(path, consumerID string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.files[path]; f != nil {
		f.shared = true
		f.consumers[consumerID] = true
	}
}

// downloadURL answers GenerateURLForDownloadFile for who: the file's
// owner; a consumer of a conversation it was shared in; any agent once it
// was shared (agents read every conversation of the account). Anyone else
// learns nothing of the path: 404 as for an unknown one.
func (fs *fileStore) downloadURL(path string, who member) (protocol.GenerateURLResponse, int, string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.files[path]
	allowed := f != nil && (sameMember(f.owner, who) ||
		who.agent == nil && f.consumers[who.consumerID] ||
		who.agent != nil && f.shared)
	if !allowed {
		return protocol.GenerateURLResponse{}, 404, fmt.Sprintf("no file at relativePath %q", path)
	}
	if f.data == nil {
		return protocol.GenerateURLResponse{}, 404, fmt.Sprintf("nothing was uploaded to relativePath %q yet", path)
	}
	return fs.tempURL("GET", path), 0, ""
}

// generateUploadURL answers ms.GenerateURLForUploadFile (both sockets).
func (s *Service) generateUploadURL(c *socket, f protocol.Frame, who member, typ string) {
	var b protocol.GenerateURLForUploadFile
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	if _, ok := filetype.ByName(b.FileType); !ok {
		c.fail(f, 400, fmt.Sprintf("fileType %q: only JPEG or %s", b.FileType, filetype.Names()))
		return
	}
	size, err := strconv.ParseInt(string(b.FileSize), 10, 64)
	if err != nil || size <= 0 {
		c.fail(f, 400, fmt.Sprintf("fileSize %q: the file's size in bytes", b.FileSize))
		return
	}
	if size > maxFileBytes {
		c.fail(f, 400, fmt.Sprintf("fileSize %d: a file may be up to 3 MB (%d bytes)", size, maxFileBytes))
		return
	}
	path := storageContainer + s.cfg.Account + "/" + s.cfg.NewID() + "." + b.FileType
	resp, code, text := s.files.issue(path, b.FileType, size, who)
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	c.respond(f, 200, typ, resp)
}

// generateDownloadURL answers ms.GenerateURLForDownloadFile (both sockets).
func (s *Service) generateDownloadURL(c *socket, f protocol.Frame, who member, typ string) {
	var b protocol.GenerateURLForDownloadFile
	if err := f.DecodeBody(&b); err != nil || b.RelativePath == "" {
		c.fail(f, 400, "body must be {\"relativePath\":…}")
		return
	}
	resp, code, text := s.files.downloadURL(b.RelativePath, who)
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	c.respond(f, 200, typ, resp)
}

// checkHostedFile checks a hosted/file event before it is published by
// from: its message is the object of File Sharing, Step 5, naming a file
// issued to from and uploaded, a known fileType, a preview under 30 KB.
func (s *Service) checkHostedFile(ev protocol.Event, from member) (int, string) {
	hf := ev.File
	switch {
	case hf == nil:
		return 400, "a hosted/file message must be an object of strings {caption, relativePath, fileType, preview}"
	case hf.RelativePath == "":
		return 400, "hosted/file without relativePath"
	case !sharedTypes[hf.FileType]:
		return 400, fmt.Sprintf("fileType %q: only IMG, JPG, JPEG, PNG, GIF, TXT, PDF, DOCX, XLSX or PPTX", hf.FileType)
	case len(hf.Preview) > maxPreviewBytes:
		return 413, fmt.Sprintf("preview over %d bytes", maxPreviewBytes)
	case len(hf.Caption) > maxTextBytes:
		return 413, fmt.Sprintf("caption over %d bytes", maxTextBytes)
	}
	return s.files.checkShare(hf.RelativePath, from)
}

package simulator

import (
	"bytes"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The upload and the download of Publish Images (Steps 3 and 5) as the
// tutorial prints them.
const (
	tutorialUpload   = `curl -i "https://${LP_SWIFT}$LP_REL_PATH?temp_url_sig=$LP_TUS&temp_url_expires=$LP_TUE" --upload-file LP_LOGO_1.png`
	tutorialDownload = `curl -i "https://${LP_SWIFT}$LP_REL_PATH?temp_url_sig=$LP_TUS&temp_url_expires=$LP_TUE" --output my.png`
)

// TestFileSharingCurl types Publish Images' curl commands into a shell
// against the service's storage over TLS (its certificate trusted
// through CURL_CA_BUNDLE): the logo uploaded to the upload URL, shared,
// and downloaded again from a download URL. The tutorial's -i writes the
// answer's headers into my.png before the bytes. Skipped without curl
// unless E2E_REQUIRED=1.
func TestFileSharingCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("E2E_REQUIRED") == "1" {
			t.Fatalf("E2E_REQUIRED=1 but no curl: %v", err)
		}
		t.Skip("no curl")
	}
	e := newEnv(t)
	srv := httptest.NewTLSServer(e.svc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	logo := pngBytes(t, 100, 16)
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "LP_LOGO_1.png"), logo, 0o600); err != nil {
		t.Fatal(err)
	}
	curl := func(script string, u protocol.GenerateURLResponse) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CURL_CA_BUNDLE="+ca, "LP_SWIFT="+strings.TrimPrefix(srv.URL, "https://"),
			"LP_REL_PATH="+u.RelativePath, "LP_TUS="+u.QueryParams.TempURLSig, "LP_TUE="+string(u.QueryParams.TempURLExpires))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		return string(out)
	}

	cons := e.consumer(e.signup())
	convID := cons.openConversation()
	up := cons.uploadURL(protocol.TypeGenerateURLForUploadFile, len(logo), "PNG")
	if out := curl(tutorialUpload, up); !regexp.MustCompile(`(?m)^HTTP/[0-9.]+ 201`).MatchString(out) {
		t.Fatalf("upload answered:\n%s", out)
	}
	cons.ok(protocol.TypePublishEvent, hostedFile(convID, protocol.HostedFile{Caption: "LivePerson logo", RelativePath: up.RelativePath, FileType: "PNG"}))
	down := decode[protocol.GenerateURLResponse](t, cons.ok(protocol.TypeGenerateURLForDownloadFile, protocol.GenerateURLForDownloadFile{RelativePath: up.RelativePath}))
	curl(tutorialDownload, down)
	got, err := os.ReadFile(filepath.Join(dir, "my.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^HTTP/[0-9.]+ 200`).Match(got) || !bytes.Contains(got, []byte("Content-Type: image/png")) || !bytes.HasSuffix(got, logo) {
		t.Errorf("my.png (%d bytes) is not the answer's headers and the logo:\n%.300q", len(got), got)
	}
}

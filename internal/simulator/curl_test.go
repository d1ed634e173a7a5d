package simulator

import (
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// tutorialCurl is Step 2 of LivePerson's Authentication tutorial as it
// prints it: the brand token exchanged at the IDP's authenticate, the
// answer's jwt taken by jq.
const tutorialCurl = `LP_AUTH_JWT=` + "`" + `curl -X POST -H "Content-Type: application/json" -d '{"authCode" : "'$LP_EXT_JWT'"}' https://$LP_IDP/api/account/$LP_ACCOUNT/authenticate | jq -r .jwt` + "`"

// TestTutorialCurl: the tutorial's authenticate call, typed as the
// tutorial prints it into a shell with curl, against the service over TLS
// (the service's certificate trusted through CURL_CA_BUNDLE, LP_IDP found
// through the domain API as the tutorial's shell does), with the
// tutorial's key, account and sample token. Without jq the same curl runs
// alone and the test reads the answer. Skipped without curl unless
// E2E_REQUIRED=1.
func TestTutorialCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("E2E_REQUIRED") == "1" {
			t.Fatalf("E2E_REQUIRED=1 but no curl: %v", err)
		}
		t.Skip("no curl")
	}
	e := newEnv(t, withBrandKey)
	srv := httptest.NewTLSServer(e.svc)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Get(srv.URL + protocol.Path(protocol.PathDomain, tutorialAccount) + "?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	var uris protocol.BaseURIs
	err = json.NewDecoder(resp.Body).Decode(&uris)
	resp.Body.Close()
	idp, ok := uris.Lookup(protocol.ServiceIDP)
	if err != nil || !ok {
		t.Fatalf("domain API: %v %+v", err, uris)
	}

	script := tutorialCurl + "\n" + `printf '%s' "$LP_AUTH_JWT"`
	_, jqErr := exec.LookPath("jq")
	if jqErr != nil {
		script = strings.TrimSuffix(strings.TrimPrefix(tutorialCurl, "LP_AUTH_JWT=`"), " | jq -r .jwt`")
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "CURL_CA_BUNDLE="+ca, "LP_IDP="+idp, "LP_ACCOUNT="+tutorialAccount, "LP_EXT_JWT="+tutorialToken())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	jwt := strings.TrimSpace(string(out))
	if jqErr != nil {
		var answer protocol.SignupResponse
		if err := json.Unmarshal(out, &answer); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
		jwt = answer.JWT
	}
	claims := payload(t, jwt)
	ext, _ := claims["lp.ext"].(map[string]any)
	if ext["sub"] != "+972-3-5555-555" {
		t.Fatalf("LP_AUTH_JWT claims %v", claims)
	}
	e.consumerAt(tutorialAccount, jwt).openConversation()
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The Authentication tutorial's key and sample token
// (internal/simulator/testdata/lptutorial/README.md).
const lpTutorial = "../../internal/simulator/testdata/lptutorial/"

// postToken posts body and returns the status and the token of the
// answer's field (jwt or token).
func postToken(t *testing.T, url, body, field string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out[field]
}

// lifetime is a token's exp minus its iat, read unverified.
func lifetime(t *testing.T, token string) time.Duration {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Iat, Exp int64 }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return time.Duration(c.Exp-c.Iat) * time.Second
}

// TestSimulateIdentityFlags: -auth-key makes authenticate take the
// tutorial's token, -connector serves the connector flow, -token-ttl and
// -ext-token-ttl set the lifetimes, and the start-up lines say so.
func TestSimulateIdentityFlags(t *testing.T) {
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "qa57221676",
		"-auth-key", lpTutorial+"brand_public_key.pem", "-connector", "c1", "-token-ttl", "1h", "-ext-token-ttl", "5m")
	base := out.wait(t, listening, 10*time.Second)
	out.wait(t, regexp.MustCompile(`(unauthenticated connector c1)`), time.Second)
	if !strings.Contains(out.String(), "authenticate verifies brand tokens with "+lpTutorial+"brand_public_key.pem") {
		t.Errorf("start-up lines do not name the brand key:\n%s", out.String())
	}
	ext, err := os.ReadFile(lpTutorial + "ext_jwt.txt")
	if err != nil {
		t.Fatal(err)
	}
	code, jwt := postToken(t, base+"/api/account/qa57221676/authenticate", `{"authCode":"`+strings.TrimSpace(string(ext))+`"}`, "jwt")
	if code != 200 || lifetime(t, jwt) != time.Hour {
		t.Errorf("authenticate with the tutorial's token: %d, token living %s, want 200 and 1h", code, lifetime(t, jwt))
	}
	code, bad := postToken(t, base+"/api/account/qa57221676/authenticate", `{"authCode":"`+jwt+`"}`, "jwt")
	if code != 401 || bad != "" {
		t.Errorf("authenticate with a token the brand did not sign: %d", code)
	}
	code, idToken := postToken(t, base+protocol.Path(protocol.PathAnonymousAuthorize, "qa57221676"), "", "token")
	if code != 200 || lifetime(t, idToken) != 5*time.Minute {
		t.Fatalf("anonymous/authorize: %d, id_token living %s, want 5m", code, lifetime(t, idToken))
	}
	code, tok := postToken(t, base+protocol.Path(protocol.PathConnectorAuthenticate, "qa57221676", "c1")+"?v=3.0", `{"id_token":"`+idToken+`"}`, "token")
	if code != 200 || lifetime(t, tok) != time.Hour {
		t.Errorf("connector authenticate: %d, token living %s, want 1h", code, lifetime(t, tok))
	}
}

// TestSimulateWithoutAuthKey: without -auth-key the start-up lines say
// brand tokens are taken unverified, and there is no connector.
func TestSimulateWithoutAuthKey(t *testing.T) {
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0")
	base := out.wait(t, listening, 10*time.Second)
	out.wait(t, regexp.MustCompile(`authenticate takes brand tokens (unverified)`), time.Second)
	if code, _ := postToken(t, base+protocol.Path(protocol.PathAnonymousAuthorize, "12345678"), "", "token"); code != 404 {
		t.Errorf("anonymous/authorize without -connector: %d, want 404", code)
	}
}

// TestSimulateRefusesBadIdentityFlags: a missing or unreadable key and
// lifetimes that are not positive stop simulate with a reason.
func TestSimulateRefusesBadIdentityFlags(t *testing.T) {
	notKey := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(notKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing key file", []string{"-auth-key", filepath.Join(t.TempDir(), "none.pem")}, "-auth-key"},
		{"not a key", []string{"-auth-key", notKey}, "brand key"},
		{"private key", []string{"-auth-key", lpTutorial + "brand_private_key.pem"}, "want PUBLIC KEY"},
		{"zero token-ttl", []string{"-token-ttl", "0s"}, "must be positive"},
		{"negative ext-token-ttl", []string{"-ext-token-ttl", "-1m"}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), append([]string{"simulate", "-addr", "127.0.0.1:0"}, tt.args...), func(string) string { return "" }, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("simulate %q = %v (stderr %q), want an error mentioning %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

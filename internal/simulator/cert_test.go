package simulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestTLS: a generated certificate is reused on the next start, and a
// client that trusts it as a CA reaches the domain API and the sockets
// over https/wss at the advertised host.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	cert, created, err := LoadOrCreateCert(certFile, keyFile)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	again, created, err := LoadOrCreateCert(certFile, keyFile)
	if err != nil || created || !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Fatalf("reload: %v created=%v", err, created)
	}
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v %v", info.Mode(), err)
	}

	svc, err := New(Config{Account: testAccount, SigningKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(svc)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	defer svc.Close()

	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer httpClient.CloseIdleConnections()

	// Use the name "localhost" rather than the IP, as clients do.
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	resp, err := httpClient.Get(base + "/api/account/123/service/baseURI.json?version=1.0")
	if err != nil {
		t.Fatalf("domain API over TLS: %v", err)
	}
	var uris protocol.BaseURIs
	err = json.NewDecoder(resp.Body).Decode(&uris)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	host, _ := uris.Lookup("asyncMessagingEnt")
	if host != strings.TrimPrefix(base, "https://") {
		t.Fatalf("advertised %q for %s", host, base)
	}
	resp, err = httpClient.Post("https://"+host+"/api/account/123/signup", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var signup protocol.SignupResponse
	err = json.NewDecoder(resp.Body).Decode(&signup)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "jwt "+signup.JWT)
	conn, _, err := websocket.Dial(ctx, "wss://"+host+"/ws_api/account/123/messaging/consumer?v=3",
		&websocket.DialOptions{HTTPClient: httpClient, HTTPHeader: h})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"kind":"req","id":"1","type":"GetClock"}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"code":200`) {
		t.Fatalf("GetClock over wss: %s %v", data, err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// TestAuthenticate: a brand token becomes a consumer token whose sub is a
// 64-hex id derived from the brand's sub (the same for the same brand sub).
func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	brand := func(sub string, exp time.Time) string {
		enc := base64.RawURLEncoding.EncodeToString
		claims, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp.Unix()})
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(claims) + ".c2ln"
	}
	var first, second protocol.SignupResponse
	if code := e.post("/api/account/123/authenticate", protocol.AuthenticateRequest{AuthCode: brand("user-1", epoch.Add(time.Hour))}, &first); code != 200 {
		t.Fatalf("authenticate: %d", code)
	}
	e.post("/api/account/123/authenticate", protocol.AuthenticateRequest{AuthCode: brand("user-1", epoch.Add(2*time.Hour))}, &second)
	c1, err := e.svc.tokens.verify(first.JWT)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := e.svc.tokens.verify(second.JWT)
	if len(c1.Sub) != 64 || c1.Sub != c2.Sub || c1.Exp != epoch.Add(time.Hour).Unix() {
		t.Errorf("claims %+v %+v", c1, c2)
	}
	e.consumer(first.JWT).openConversation()
	e.consumer(second.JWT).wantCode(409, "cm.ConsumerRequestConversation", nil)
	for name, code := range map[string]string{"expired": brand("u", epoch.Add(-time.Hour)), "not a jwt": "nope"} {
		if got := e.post("/api/account/123/authenticate", protocol.AuthenticateRequest{AuthCode: code}, nil); got != 401 {
			t.Errorf("%s: %d, want 401", name, got)
		}
	}
}

//go:build linux

// Package wscat_test types LivePerson's consumer tutorials into wscat, the
// shell tool they are written for, against `chatwindow simulate`: their
// own published frames, with only the ids they ask the reader to fill in
// replaced, and curl for their HTTP steps. The agent, whom the tutorials
// play in the Agent Workspace, is the project's agent client on the
// service's agent socket.
package wscat_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	account       = "12345678"
	agentUser     = "agent"
	agentPassword = "secret"
)

// wscatCommand is the tutorials' command (Getting Started step 3; Read and
// Accept Events step 1) but for `-k 60`, an option of the wscat2 fork the
// tutorials' shell had, which today's wscat does not know; the service
// closes a socket only after 66 s of silence, and no step here waits that
// long. exec: the shell makes way for wscat, as in a person's terminal.
const wscatCommand = `exec wscat -H "Authorization:jwt $LP_JWT" -c "wss://$LP_ASYNCMESSAGINGENT/ws_api/account/$LP_ACCOUNT/messaging/consumer?v=3"`

// requirePeers skips without node, curl or the installed wscat, unless
// E2E_REQUIRED=1 says the peers must run.
func requirePeers(t *testing.T) {
	t.Helper()
	var missing string
	for _, tool := range []string{"node", "curl"} {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool + " is not on PATH"
		}
	}
	if _, err := os.Stat(filepath.Join("node_modules", ".bin", "wscat")); err != nil && missing == "" {
		missing = "node_modules/.bin/wscat is missing: run `npm ci` in tests/wscat (or `make test`)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("E2E_REQUIRED=1 but %s", missing)
	}
	t.Skipf("skipping the wscat tutorial: %s", missing)
}

// shell is the tutorial's shell: its environment variables, wscat on the
// PATH, the service's certificate trusted by curl and Node.
type shell struct {
	env []string
}

func (sh *shell) set(name, value string) { sh.env = append(sh.env, name+"="+value) }

// run runs a command line in the shell and returns what it printed on
// stdout.
func (sh *shell) run(ctx context.Context, t *testing.T, command string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = sh.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, stderr.String())
	}
	return out
}

// service starts `chatwindow simulate` over TLS and returns its host, the
// certificate's file and an HTTP client that trusts it.
func service(ctx context.Context, t *testing.T) (host, certFile string, client *http.Client) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatwindow")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.CommandContext(ctx, "go", append(args, "github.com/chatwindow/chatwindow/cmd/chatwindow")...)
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chatwindow: %v\n%s", err, out)
	}
	dir := t.TempDir()
	certFile = filepath.Join(dir, "cert.pem")
	out := startLines(t, "simulate", os.Environ(), bin, "simulate", "-addr", "127.0.0.1:0", "-account", account,
		"-agent", agentUser+":"+agentPassword, "-tls-cert", certFile, "-tls-key", filepath.Join(dir, "key.pem"))
	i, err := out.wait(ctx, "simulate's address", 0, func(s string) (bool, error) { return strings.HasPrefix(s, "listening on "), nil })
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(strings.TrimPrefix(out.snapshot()[i], "listening on "))
	if err != nil || u.Scheme != "https" {
		t.Fatalf("simulate: %q", out.snapshot()[i])
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return u.Host, certFile, &http.Client{Transport: transport}
}

// TestTutorialInWscat types Getting Started (steps 2 to 5) and Read and
// Accept Events (steps 1 to 3) into wscat.
func TestTutorialInWscat(t *testing.T) {
	requirePeers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	host, certFile, client := service(ctx, t)

	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	sh := &shell{env: append(os.Environ(),
		"PATH="+filepath.Join(wd, "node_modules", ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CURL_CA_BUNDLE="+certFile, "NODE_EXTRA_CA_CERTS="+certFile)}

	// The tutorials' shell knows the account and its hosts: the domain API
	// names them.
	sh.set("LP_ACCOUNT", account)
	sh.set("LP_CSDS", host)
	var domains protocol.BaseURIs
	decodeJSON(t, sh.run(ctx, t, `curl -s "https://$LP_CSDS/api/account/$LP_ACCOUNT/service/baseURI.json?version=1.0"`), &domains)
	for name, svc := range map[string]string{"LP_ASYNCMESSAGINGENT": protocol.ServiceAsyncMessagingEnt, "LP_IDP": protocol.ServiceIDP} {
		h, ok := domains.Lookup(svc)
		if !ok {
			t.Fatalf("the domain API does not list %s: %+v", svc, domains)
		}
		sh.set(name, h)
	}

	// Getting Started step 2: LP_JWT=`curl -X POST https://$LP_IDP/api/account/$LP_ACCOUNT/signup | jq -r .jwt`
	// (the test reads the JSON itself instead of jq).
	var signup protocol.SignupResponse
	decodeJSON(t, sh.run(ctx, t, `curl -X POST https://$LP_IDP/api/account/$LP_ACCOUNT/signup`), &signup)
	sh.set("LP_JWT", signup.JWT)
	consumerID := jwtSub(t, signup.JWT) // Get Messages step 1

	// "Before creating the conversation, log into Conversational Cloud as
	// an agent."
	agent := startAgent(ctx, t, client, host)

	// Getting Started step 3: connect.
	term := startTerminal(t, "wscat", sh.env, wscatCommand)
	waitConnected(ctx, t, term)

	// Step 4: create a conversation; the agent accepts it.
	term.typeLine(t, `{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`)
	conv := conversationID(t, term.response(ctx, t, 0, "1", "cm.RequestConversationResponse"))
	agent.accept(ctx, t, conv)

	// Step 5: publish a text message; the agent sees it, from the consumer.
	from := len(term.out.snapshot())
	term.typeLine(t, strings.ReplaceAll(`{"kind":"req","id":2,"type":"ms.PublishEvent","body":{"dialogId":"__YOUR_CONVERSATION_ID__","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi there"}}}`,
		"__YOUR_CONVERSATION_ID__", conv))
	term.response(ctx, t, from, "2", "ms.PublishEventResponse")
	if ev := agent.waitEvent(ctx, t, conv, "hi there"); ev.Originator() != consumerID {
		t.Errorf("the agent saw %q from %q, want the consumer %q", ev.Event.Message, ev.Originator(), consumerID)
	}
	// "Now close the conversation from the Agent Workspace."
	if err := agent.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}

	// Read and Accept Events step 1: a new connection, a new conversation.
	term = startTerminal(t, "wscat (Read and Accept Events)", sh.env, wscatCommand)
	waitConnected(ctx, t, term)
	term.typeLine(t, `{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`)
	conv = conversationID(t, term.response(ctx, t, 0, "1", "cm.RequestConversationResponse"))
	agent.accept(ctx, t, conv)

	// Step 2: the agent types; its line arrives on the socket that created
	// the conversation, which never subscribed.
	for _, text := range []string{"some agent text", "and more"} {
		if _, err := agent.Publish(ctx, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text}); err != nil {
			t.Fatal(err)
		}
	}
	line := term.event(ctx, t, "the agent's line", func(ev protocol.MessagingEvent) bool { return ev.Event.Message == "some agent text" })
	seq, ok := line.Seq()
	if !ok || line.DialogID != conv || line.Originator() != agent.PID() || line.Event.Type != protocol.EventContent {
		t.Fatalf("the agent's line: %+v", line)
	}

	// Step 3: ACCEPT, then READ (the tutorial sends both with id 2); the
	// agent sees each from the consumer.
	for _, status := range []string{"ACCEPT", "READ"} {
		frame := `{"kind":"req","id":2,"type":"ms.PublishEvent","body":{"dialogId":"__DIALOG_ID__","event":{"type" : "AcceptStatusEvent" , "status" : "` + status + `", "sequenceList" : [ __SEQUENCE__ ]}}}`
		frame = strings.NewReplacer("__DIALOG_ID__", line.DialogID, "__SEQUENCE__", fmt.Sprint(seq)).Replace(frame)
		from := len(term.out.snapshot())
		term.typeLine(t, frame)
		term.response(ctx, t, from, "2", "ms.PublishEventResponse")
		ev := agent.waitReceipt(ctx, t, conv, status, seq)
		if ev.Originator() != consumerID {
			t.Errorf("the agent saw %s of %d from %q, want the consumer %q", status, seq, ev.Originator(), consumerID)
		}
	}

	// Each of the agent's lines arrived once on the socket, in order: the
	// service answers a request after what it queued before (the keep-alive
	// frame of Protocol Overview is the mark).
	from = len(term.out.snapshot())
	term.typeLine(t, `{"kind":"req","id":"3","type":"GetClock"}`)
	term.response(ctx, t, from, "3", ".ams.GetClock$Response")
	var got []string
	for _, ev := range term.events(t) {
		if ev.Event.Type == protocol.EventContent {
			got = append(got, ev.Event.Message)
		}
	}
	if want := []string{"some agent text", "and more"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("text events on the socket: %q, want %q", got, want)
	}
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// jwtSub reads the token's sub, as Get Messages step 1 does with base64.
func jwtSub(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("LP_JWT is not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	decodeJSON(t, payload, &c)
	if c.Sub == "" {
		t.Fatalf("LP_JWT has no sub: %s", payload)
	}
	return c.Sub
}

// waitConnected waits for wscat's "Connected" line.
func waitConnected(ctx context.Context, t *testing.T, term *terminal) {
	t.Helper()
	if _, err := term.out.wait(ctx, "wscat to connect", 0, func(s string) (bool, error) {
		if strings.HasPrefix(s, "error: ") {
			return false, fmt.Errorf("wscat: %s", s)
		}
		return strings.HasPrefix(s, "Connected"), nil
	}); err != nil {
		t.Fatal(err)
	}
}

// received is a frame wscat printed ("< " and the frame).
type received struct {
	Kind  string          `json:"kind"`
	ReqID string          `json:"reqId"`
	Code  int             `json:"code"`
	Type  string          `json:"type"`
	Body  json.RawMessage `json:"body"`
}

func parseReceived(s string) (received, bool) {
	var f received
	rest, ok := strings.CutPrefix(s, "< ")
	return f, ok && json.Unmarshal([]byte(rest), &f) == nil
}

// response waits for the response to reqID printed at or after segment
// from, and checks it is a 200 of type typ.
func (term *terminal) response(ctx context.Context, t *testing.T, from int, reqID, typ string) received {
	t.Helper()
	var f received
	if _, err := term.out.wait(ctx, "the response to "+reqID, from, func(s string) (bool, error) {
		var ok bool
		f, ok = parseReceived(s)
		return ok && f.Kind == "resp" && f.ReqID == reqID, nil
	}); err != nil {
		t.Fatal(err)
	}
	if f.Code != 200 || f.Type != typ {
		t.Fatalf("response to %s: code %d type %q, want 200 %q (body %s)", reqID, f.Code, f.Type, typ, f.Body)
	}
	return f
}

func conversationID(t *testing.T, f received) string {
	t.Helper()
	var b protocol.RequestConversationResponse
	decodeJSON(t, f.Body, &b)
	if b.ConversationID == "" {
		t.Fatalf("no conversationId: %s", f.Body)
	}
	return b.ConversationID
}

// events lists every messaging event wscat printed so far.
func (term *terminal) events(t *testing.T) []protocol.MessagingEvent {
	t.Helper()
	var out []protocol.MessagingEvent
	for _, s := range term.out.snapshot() {
		f, ok := parseReceived(s)
		if !ok || f.Kind != "notification" || f.Type != protocol.TypeMessagingEventNotification {
			continue
		}
		var n protocol.MessagingEventNotification
		decodeJSON(t, f.Body, &n)
		out = append(out, n.Changes...)
	}
	return out
}

// event waits for a messaging event wscat printed that matches.
func (term *terminal) event(ctx context.Context, t *testing.T, what string, match func(protocol.MessagingEvent) bool) protocol.MessagingEvent {
	t.Helper()
	var found protocol.MessagingEvent
	if _, err := term.out.wait(ctx, what, 0, func(s string) (bool, error) {
		f, ok := parseReceived(s)
		if !ok || f.Kind != "notification" || f.Type != protocol.TypeMessagingEventNotification {
			return false, nil
		}
		var n protocol.MessagingEventNotification
		if err := json.Unmarshal(f.Body, &n); err != nil {
			return false, fmt.Errorf("undecodable notification %s: %w", s, err)
		}
		for _, ev := range n.Changes {
			if match(ev) {
				found = ev
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

// Package agentsdk_test proves that independent peers run unchanged against
// `chatwindow simulate` over TLS: the brand's side is a bot written with
// LivePerson's own Node.js agent SDK (bot.js), run on two releases of it
// (sdks), and the consumer is played twice: by a client that knows only
// LivePerson's documented frames, sent one by one as the tutorial does
// with wscat, and by the project's own client (internal/messaging).
package agentsdk_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
)

const (
	account       = "12345678"
	agentUser     = "bot"
	agentPassword = "secret"
)

// sdk is a release of node-agent-sdk that bot.js runs on.
type sdk struct {
	version string
	dir     string // the installed package, relative to this directory
	install string // what installs it
}

// sdks are the releases the bot runs on: the last one on npm, and the head
// of LivePerson's repository, packed in tests/agentsdk14/vendor (it dials
// the agent socket at the domain API's facadeMsg, where 1.2.0 dials
// asyncMessagingEnt).
var sdks = []sdk{
	{version: "1.2.0", dir: filepath.Join("node_modules", "node-agent-sdk"), install: "`npm ci` in tests/agentsdk"},
	{version: "1.4.11", dir: filepath.Join("..", "agentsdk14", "node_modules", "node-agent-sdk"), install: "`npm ci` in tests/agentsdk14"},
}

// env is one running service, and the SDK bot that serves it as its agent.
type env struct {
	sdk      sdk
	base     string       // https://127.0.0.1:PORT, the domain API
	host     string       // 127.0.0.1:PORT
	client   *http.Client // trusts the service's certificate
	certFile string       // the service's certificate, for Node to trust
	bot      *proc
	agentID  string // the bot's PId, as its SDK reports it
}

func TestAgentSDK(t *testing.T) {
	requirePeers(t, sdks...)
	bin := buildChatwindow(t)
	for _, v := range sdks {
		t.Run(v.version, func(t *testing.T) {
			// One service and one bot for the first scenarios: the bot
			// serves them one after the other, as a bot serves many
			// conversations.
			e := startService(t, bin, v)
			startBot(t, e)

			t.Run("TutorialFrames", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				tutorial(ctx, t, e)
			})
			t.Run("MessagingClient", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				viaClient(ctx, t, e)
			})
			t.Run("ConsumerWritesFirst", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				consumerFirst(ctx, t, startService(t, bin, v))
			})
			t.Run("WrongPassword", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				wrongPassword(ctx, t, e)
			})
		})
	}
}

// requirePeers skips without Node.js or an installed SDK, unless
// E2E_REQUIRED=1 says the peers must run.
func requirePeers(t *testing.T, need ...sdk) {
	t.Helper()
	var missing string
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	}
	for _, v := range need {
		if missing != "" {
			break
		}
		if _, err := os.Stat(filepath.Join(v.dir, "package.json")); err != nil {
			missing = fmt.Sprintf("node-agent-sdk %s is missing at %s: run %s (or `make test`)", v.version, v.dir, v.install)
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("E2E_REQUIRED=1 but %s", missing)
	}
	t.Skipf("skipping the Node.js agent SDK peer: %s", missing)
}

// buildChatwindow builds the command under test, with the race detector
// when this test has it (the build cache then already holds its packages).
func buildChatwindow(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "chatwindow")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/chatwindow/chatwindow/cmd/chatwindow")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chatwindow: %v\n%s", err, out)
	}
	return bin
}

// startService starts `chatwindow simulate` over TLS with a fresh
// certificate and checks what it prints.
func startService(t *testing.T, bin string, v sdk) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	sim := startProc(t, "simulate", "", os.Environ(), true, bin, "simulate",
		"-addr", "127.0.0.1:0", "-account", account, "-agent", agentUser+":"+agentPassword,
		"-tls-cert", certFile, "-tls-key", keyFile)

	first, err := sim.out.wait(ctx, "simulate's first line", func(string) (bool, error) { return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(first, "listening on ")
	u, err := url.Parse(rest)
	if !ok || err != nil || u.Scheme != "https" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Path != "" {
		t.Fatalf("simulate's first line = %q, want %q", first, "listening on https://127.0.0.1:PORT")
	}
	for _, want := range []string{"account " + account, "agent " + agentUser} {
		if _, err := sim.out.wait(ctx, fmt.Sprintf("simulate's line %q", want), func(s string) (bool, error) {
			return s == want, nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("read the generated certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", certFile)
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return &env{sdk: v, base: u.String(), host: u.Host, client: &http.Client{Transport: transport}, certFile: certFile}
}

// botEnv is the environment of bot.js against e, as a brand would set it,
// and the SDK release it runs on.
func botEnv(t *testing.T, e *env, password string) []string {
	t.Helper()
	dir, err := filepath.Abs(e.sdk.dir)
	if err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		"AGENT_SDK="+dir,
		"NODE_EXTRA_CA_CERTS="+e.certFile,
		"LP_ACCOUNT="+account,
		"LP_CSDS="+e.host,
		"AGENT_USER="+agentUser,
		"AGENT_PASSWORD="+password,
		"BOT_TRACE=1",
	)
}

// startBot starts the SDK bot against e and waits until it is online.
func startBot(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e.bot = startProc(t, "bot", ".", botEnv(t, e, agentPassword), true, "node", "bot.js")
	connected, err := waitBot(ctx, e.bot, "the bot connected", func(l botLine) bool { return l.Step == "connected" })
	if err != nil {
		t.Fatal(err)
	}
	if connected.SDKVersion != e.sdk.version {
		t.Fatalf("the bot runs node-agent-sdk %q, want %s", connected.SDKVersion, e.sdk.version)
	}
	if connected.AgentID == "" {
		t.Fatalf("the SDK has no agentId (login's config.userPid) after login")
	}
	e.agentID = connected.AgentID
	if _, err := waitBot(ctx, e.bot, "the bot online", func(l botLine) bool { return l.Step == "online" }); err != nil {
		t.Fatal(err)
	}
}

// wrongPassword: the SDK must see the refused login as an error (it reads
// only the body's "error"), and the bot exits non-zero.
func wrongPassword(ctx context.Context, t *testing.T, e *env) {
	bot := startProc(t, "bot-wrong-password", ".", botEnv(t, e, "not-the-password"), false, "node", "bot.js")
	if _, err := bot.out.wait(ctx, "the bot to report the refused login", func(s string) (bool, error) {
		var l botLine
		return json.Unmarshal([]byte(s), &l) == nil && l.Step == "error" && l.Where == "sdk", nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bot.done:
	case <-ctx.Done():
		t.Fatalf("the bot did not exit after a refused login: %v", ctx.Err())
	}
	if code := bot.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("bot exit code after a refused login = %d, want 1", code)
	}
}

// waitBotSawMessage waits until the bot saw, in dialog, the consumer's
// text at seq, and checks that it came from consumerID.
func waitBotSawMessage(ctx context.Context, t *testing.T, e *env, dialog string, seq int64, text, consumerID string) {
	t.Helper()
	l, err := waitBot(ctx, e.bot, fmt.Sprintf("the bot to see %q at %d", text, seq), func(l botLine) bool {
		return l.Step == "message" && l.DialogID == dialog && l.Sequence != nil && *l.Sequence == seq
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Text != text || l.OriginatorID != consumerID {
		t.Errorf("bot saw text %q from %q, want %q from %q", l.Text, l.OriginatorID, text, consumerID)
	}
}

// waitBotReceipt waits for the bot to log the consumer's receipt of seq.
func waitBotReceipt(ctx context.Context, t *testing.T, e *env, dialog, status string, seq int64, consumerID string) {
	t.Helper()
	l, err := waitBot(ctx, e.bot, fmt.Sprintf("the bot to see the consumer's %s of %d", status, seq), func(l botLine) bool {
		return l.Step == "receipt" && l.DialogID == dialog && l.Status == status && contains(l.SequenceList, seq)
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.OriginatorID != consumerID {
		t.Errorf("bot saw the %s of %d from %q, want the consumer %q", status, seq, l.OriginatorID, consumerID)
	}
	if l.Role != "" && l.Role != "CONSUMER" {
		t.Errorf("bot saw the %s of %d with role %q, want CONSUMER", status, seq, l.Role)
	}
}

// jwtSub returns the sub claim of a JWT without verifying it: the consumer's
// id, as docs/protocol.md (Identity) says.
func jwtSub(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("consumer token is not a JWT: %q", token)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		t.Fatalf("consumer token payload: %v", err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		t.Fatalf("consumer token has no sub: %s", payload)
	}
	return c.Sub
}

package desks_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// The Authentication tutorial's published key pair
// (internal/simulator/testdata/lptutorial/README.md): the brand signs its
// customers' identity tokens with the private key, the service checks
// them with the public one.
const lpTutorial = "../simulator/testdata/lptutorial/"

func tutorialKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PublicKey) {
	t.Helper()
	b, err := os.ReadFile(lpTutorial + "brand_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("brand_private_key.pem has no PEM block")
	}
	priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(lpTutorial + "brand_public_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := simulator.ParseBrandKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// brandToken signs claims as the brand's identity provider does (RS256).
func brandToken(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc(sig)
}

// setProfile sends the consumer's userprofile.SetUserProfile on a socket
// of its own, as the Connector API's example does before it asks for a
// conversation.
func (w *world) setProfile(t *testing.T, tok string, p protocol.SetUserProfile) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := messaging.Dial(ctx, w.ep.ConsumerURL(), messaging.DialOptions{Token: tok, HTTPClient: w.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Request(ctx, protocol.TypeSetUserProfile, p, nil); err != nil {
		t.Fatalf("SetUserProfile: %v", err)
	}
}

// profileCalls counts the desks' GetUserProfile calls per consumer; the
// first call for a consumer in fail fails without reaching the service.
type profileCalls struct {
	desks.Upstream
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]bool
}

func (p *profileCalls) GetUserProfile(ctx context.Context, consumerID string) (protocol.UserProfile, error) {
	p.mu.Lock()
	p.calls[consumerID]++
	failing := p.fail[consumerID] && p.calls[consumerID] == 1
	p.mu.Unlock()
	if failing {
		return protocol.UserProfile{}, errors.New("injected: the service did not answer")
	}
	return p.Upstream.GetUserProfile(ctx, consumerID)
}

func (p *profileCalls) count(consumerID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[consumerID]
}

// acceptRing waits for the conversation's ring and accepts it from tb.
func acceptRing(t *testing.T, tb *tab, convID string) {
	t.Helper()
	var ringID string
	tb.waitFor(t, "the ring of "+convID, func(v desks.View, _ []desks.Message) bool {
		for _, r := range v.Rings {
			if r.ConversationID == convID {
				ringID = r.ID
				return true
			}
		}
		return false
	})
	tb.Accept(ringID)
}

// consumerOf is the consumer id of a customer's token (its sub).
func consumerOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	var c struct{ Sub string }
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sub == "" {
		t.Fatalf("no sub in the consumer token %q", tok)
	}
	return c.Sub
}

// current is the tab's last view.
func (tb *tab) current() desks.View {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.view
}

// TestDeskCustomer: through the real service, a customer the brand
// authenticated (its identity token signed with the tutorial's key, with
// Customer Info SDEs in its claims) who also sent its own Personal Info
// with SetUserProfile shows in the accepted conversation's pane as
// authenticated, with the brand's sub and issuer and both sections; the
// desk asks for the profile once per conversation however often it
// renders, and asks again for the customer's next conversation (which
// shows the profile it set meanwhile). A customer who signed up is not
// authenticated.
func TestDeskCustomer(t *testing.T) {
	priv, pub := tutorialKeys(t)
	var calls *profileCalls
	w := newWorldWrapped(t, func(up desks.Upstream) desks.Upstream {
		calls = &profileCalls{Upstream: up, calls: map[string]int{}}
		return calls
	}, func(c *simulator.Config, _ *desks.Config) { c.AuthKey = pub })
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)

	now := time.Now()
	jwt, err := messaging.Authenticate(t.Context(), w.srv.Client(), w.ep, brandToken(t, priv, map[string]any{
		"sub": "cust-42", "iss": "https://brand.example", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"lp_sdes": []any{map[string]any{"type": "ctmrinfo", "info": map[string]any{
			"ctype": "gold", "customerId": "C-42", "lastPaymentDate": map[string]int{"day": 15, "month": 10, "year": 2014},
		}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	consumer := consumerOf(t, jwt)
	w.setProfile(t, jwt, protocol.SetUserProfile{AuthenticatedData: &protocol.AuthenticatedData{LPSDEs: protocol.List[json.RawMessage]{
		json.RawMessage(`{"type":"personal","personal":{"firstname":"Jo","lastname":"Brand","contacts":[{"email":"jo@example.com"}]}}`),
	}}})
	cu := w.customerWith(t, jwt)
	convID, _ := cu.start(t, "Hello, it's Jo")
	acceptRing(t, tb, convID)

	brandInfo := desks.CustomerSection{Type: protocol.SDECustomerInfo, Source: desks.SourceBrand, Fields: []desks.CustomerField{
		{Name: "ctype", Label: "Customer type", Text: "gold"},
		{Name: "customerId", Label: "Customer ID", Text: "C-42"},
		{Name: "lastPaymentDate", Label: "Last payment", Date: desks.Date{Year: 2014, Month: 10, Day: 15}},
	}}
	want := desks.Customer{Authenticated: true, Level: "loa1", ID: "cust-42", Issuer: "https://brand.example", Sections: []desks.CustomerSection{
		brandInfo,
		{Type: protocol.SDEPersonal, Source: desks.SourceCustomer, Fields: []desks.CustomerField{
			{Name: "firstname", Label: "First name", Text: "Jo"},
			{Name: "lastname", Label: "Last name", Text: "Brand"},
			{Name: "contacts.email", Label: "Email", Text: "jo@example.com"},
		}},
	}}
	tb.waitFor(t, "the customer's details in the pane", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.ID == convID && v.Selected.Profile == desks.ProfileLoaded
	})
	v := tb.current()
	if diff := cmp.Diff(want, v.Selected.Customer); diff != "" {
		t.Errorf("the pane's customer (-want +got):\n%s", diff)
	}
	if v.Selected.ConsumerName != "Jo Brand" || v.Conversations[0].ConsumerName != "Jo Brand" {
		t.Errorf("the customer is named %q in the pane and %q in the list, want Jo Brand", v.Selected.ConsumerName, v.Conversations[0].ConsumerName)
	}

	// Renders do not ask again: messages both ways, another tab opening it.
	cu.say(t, convID, "Are you there?")
	tb.Send("", "Yes, Jo.")
	tb.waitFor(t, "both messages", func(_ desks.View, msgs []desks.Message) bool {
		_, a := find(msgs, "Are you there?")
		_, b := find(msgs, "Yes, Jo.")
		return a && b
	})
	other := attach(t, w.mgr, deskID)
	other.Open(convID)
	other.waitFor(t, "the other tab showing the customer", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.ID == convID && v.Selected.Profile == desks.ProfileLoaded
	})
	if n := calls.count(consumer); n != 1 {
		t.Errorf("%d GetUserProfile calls for one conversation, want 1", n)
	}

	// The next conversation of the same customer: asked again, and it
	// shows what the customer set since.
	tb.Close("")
	tb.waitFor(t, "closed", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.Closed })
	w.setProfile(t, jwt, protocol.SetUserProfile{AuthenticatedData: &protocol.AuthenticatedData{LPSDEs: protocol.List[json.RawMessage]{
		json.RawMessage(`{"type":"personal","personal":{"firstname":"Joanna","language":"en-GB"}}`),
	}}})
	second, _ := cu.start(t, "Me again")
	acceptRing(t, tb, second)
	tb.waitFor(t, "the second conversation's customer", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.ID == second && v.Selected.Profile == desks.ProfileLoaded
	})
	want.Sections[1].Fields = []desks.CustomerField{
		{Name: "firstname", Label: "First name", Text: "Joanna"},
		{Name: "language", Label: "Language", Text: "en-GB"},
	}
	if diff := cmp.Diff(want, tb.current().Selected.Customer); diff != "" {
		t.Errorf("the second conversation's customer (-want +got):\n%s", diff)
	}
	if n := calls.count(consumer); n != 2 {
		t.Errorf("%d GetUserProfile calls for two conversations, want 2", n)
	}
	tb.Close("")

	// A customer who signed up: not authenticated, nothing to show.
	anon := w.customer(t)
	third, _ := anon.start(t, "Hi")
	acceptRing(t, tb, third)
	tb.waitFor(t, "the anonymous customer", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.ID == third && v.Selected.Profile == desks.ProfileLoaded
	})
	if diff := cmp.Diff(desks.Customer{}, tb.current().Selected.Customer); diff != "" {
		t.Errorf("a signed-up customer (-want +got):\n%s", diff)
	}
}

// TestDeskCustomerAskedAgain: when the profile cannot be read the pane
// says so, and opening the conversation asks again.
func TestDeskCustomerAskedAgain(t *testing.T) {
	var calls *profileCalls
	w := newWorldWrapped(t, func(up desks.Upstream) desks.Upstream {
		calls = &profileCalls{Upstream: up, calls: map[string]int{}, fail: map[string]bool{}}
		return calls
	})
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	tok, err := messaging.Signup(t.Context(), w.srv.Client(), w.ep)
	if err != nil {
		t.Fatal(err)
	}
	consumer := consumerOf(t, tok)
	calls.mu.Lock()
	calls.fail[consumer] = true
	calls.mu.Unlock()
	w.setProfile(t, tok, protocol.SetUserProfile{AuthenticatedData: &protocol.AuthenticatedData{LPSDEs: protocol.List[json.RawMessage]{
		json.RawMessage(`{"type":"ctmrinfo","info":{"ctype":"vip"}}`),
	}}})
	cu := w.customerWith(t, tok)
	convID, _ := cu.start(t, "Hello")
	acceptRing(t, tb, convID)
	tb.waitFor(t, "the profile not read", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.ID == convID && v.Selected.Profile == desks.ProfileFailed
	})

	other := attach(t, w.mgr, deskID)
	other.Open(convID)
	other.waitFor(t, "the profile read on opening", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.Profile == desks.ProfileLoaded && len(v.Selected.Customer.Sections) == 1
	})
	tb.waitFor(t, "the first tab updated too", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.Profile == desks.ProfileLoaded
	})
	if n := calls.count(consumer); n != 2 {
		t.Errorf("%d GetUserProfile calls, want 2 (the failed one, and on opening)", n)
	}
}

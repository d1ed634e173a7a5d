package messaging_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

func TestDiscoverCarriesSchemeToSockets(t *testing.T) {
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	want := messaging.Endpoints{Scheme: "http", Account: account, AsyncMessagingEnt: host, IDP: host, AgentVep: host, Swift: host}
	if diff := cmp.Diff(want, e.ep); diff != "" {
		t.Fatalf("endpoints (-want +got):\n%s", diff)
	}
	if got, want := e.ep.ConsumerURL(), "ws://"+host+"/ws_api/account/123/messaging/consumer?v=3"; got != want {
		t.Errorf("ConsumerURL = %s, want %s", got, want)
	}
	if got, want := e.ep.AgentURL("b/e r"), "ws://"+host+"/ws_api/account/123/messaging/brand/b%2Fe%20r?v=2.1"; got != want {
		t.Errorf("AgentURL = %s, want %s", got, want)
	}

	// https gives wss, for LivePerson.
	prod := messaging.Endpoints{Scheme: "https", Account: "9", AsyncMessagingEnt: "va.msg.liveperson.net"}
	if got, want := prod.ConsumerURL(), "wss://va.msg.liveperson.net/ws_api/account/9/messaging/consumer?v=3"; got != want {
		t.Errorf("ConsumerURL = %s, want %s", got, want)
	}
}

func TestDiscoverOverrides(t *testing.T) {
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "http://")

	// Some overridden: the rest is discovered; a URL-shaped override keeps
	// only its host.
	ep, err := messaging.Discover(t.Context(), e.srv.Client(), e.srv.URL, account, messaging.Overrides{
		AsyncMessagingEnt: "msg.example:9",
		IDP:               "https://idp.example/",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := messaging.Endpoints{Scheme: "http", Account: account, AsyncMessagingEnt: "msg.example:9", IDP: "idp.example", AgentVep: host, Swift: host}
	if diff := cmp.Diff(want, ep); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}

	// All overridden: the domain API is not asked (this one would fail).
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("domain API asked: %s", r.URL)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer dead.Close()
	ep, err = messaging.Discover(t.Context(), nil, dead.URL, account, messaging.Overrides{AsyncMessagingEnt: "m:1", IDP: "i:2", AgentVep: "a:3"})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Scheme != "http" || ep.AsyncMessagingEnt != "m:1" || ep.IDP != "i:2" || ep.AgentVep != "a:3" {
		t.Errorf("endpoints = %+v", ep)
	}
}

func TestDiscoverErrors(t *testing.T) {
	e := newEnv(t)
	_, err := messaging.Discover(t.Context(), e.srv.Client(), e.srv.URL, "999", messaging.Overrides{})
	var se *messaging.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown account: %v, want a 401 StatusError", err)
	}
	if _, err := messaging.Discover(t.Context(), nil, "ftp://x", account, messaging.Overrides{}); err == nil {
		t.Error("ftp scheme accepted")
	}
	_, err = messaging.Login(t.Context(), e.srv.Client(), e.ep, "alice", "wrong")
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v, want a 401 StatusError", err)
	}
}

func TestSignupAndLogin(t *testing.T) {
	e := newEnv(t)
	tok := e.signup()
	sub, err := messaging.Subject(tok)
	if err != nil || sub == "" {
		t.Fatalf("Subject = %q, %v", sub, err)
	}
	lr, err := messaging.Login(t.Context(), e.srv.Client(), e.ep, "alice", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	info := e.svc.Agents()[0]
	if lr.Bearer == "" || lr.Config.UserID != info.UserID || lr.Config.UserPID != info.PID {
		t.Errorf("login = %+v, agent = %+v", lr, info)
	}
}

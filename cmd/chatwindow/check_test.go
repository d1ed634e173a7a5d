package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// rs256 signs claims with key as an RS256 JWT.
func rs256(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheck runs `chatwindow check` against `chatwindow simulate`, healthy
// and broken: each broken setting fails at its own step, says what to
// change, skips the rest and makes check fail; a healthy account passes
// every step, a conversation opened and closed included.
func TestCheck(t *testing.T) {
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "555")
	base := out.wait(t, listening, 10*time.Second)
	later := time.Now().Add(time.Hour).Unix()
	// A token this service never issued: the right shape and account, but
	// signed with another key.
	forged := rs256(t, testenv.Key(), map[string]any{"sub": "someone", "aud": "acc:555", "iss": "elsewhere", "exp": later})
	expired := rs256(t, testenv.Key(), map[string]any{"sub": "someone", "aud": "acc:555", "exp": time.Now().Add(-2 * time.Hour).Unix()})
	nobody := "http://" + closedAddr(t)

	tests := []struct {
		name string
		env  map[string]string
		args []string
		// fails is the step that fails ("" for none); advice must be in its
		// advice line.
		fails, advice string
	}{
		{"healthy", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": base}, []string{"-create"}, "", ""},
		{"wrong account", map[string]string{"LP_ACCOUNT": "999", "LP_CSDS": base}, nil, "domain API", "does not know account 999: check LP_ACCOUNT"},
		{"unreachable domain API", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": nobody}, nil, "domain API", "cannot be reached from here: check LP_CSDS"},
		{"unreachable messaging host", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": base, "LP_ASYNCMESSAGINGENT": strings.TrimPrefix(nobody, "http://")}, nil, "socket", "check LP_ASYNCMESSAGINGENT"},
		{"token of another key", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": base, "LP_JWT": forged}, nil, "InitConnection", "the service refused the token"},
		{"expired token", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": base, "LP_JWT": expired}, nil, "token", "LP_JWT has expired"},
		{"not a token", map[string]string{"LP_ACCOUNT": "555", "LP_CSDS": base, "LP_JWT": "not-a-jwt"}, nil, "token", "LP_JWT must be the consumer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got lines
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"check", "-step-timeout", "5s"}, tt.args...), func(k string) string { return tt.env[k] }, &got, &lines{})
			text := got.String()
			if tt.fails == "" {
				if err != nil {
					t.Fatalf("check failed: %v\n%s", err, text)
				}
				for _, step := range []string{"domain API", "token", "socket", "InitConnection", "GetClock", "conversations", "open conversation", "close conversation"} {
					if !strings.Contains(text, "  ok    "+step+" ") {
						t.Errorf("no ok line for %q:\n%s", step, text)
					}
				}
				if !strings.Contains(text, "all 8 steps passed") {
					t.Errorf("no summary:\n%s", text)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed:\n%s", text)
			}
			if !strings.Contains(text, "  FAIL  "+tt.fails+" ") {
				t.Errorf("want %q to fail:\n%s", tt.fails, text)
			}
			if !strings.Contains(text, "→ ") || !strings.Contains(text, tt.advice) {
				t.Errorf("want advice %q:\n%s", tt.advice, text)
			}
			if strings.Contains(text, "  ok    conversations") || !strings.Contains(text, "  skip  conversations") {
				t.Errorf("the steps after the failure were not skipped:\n%s", text)
			}
		})
	}
}

func TestCheckNeedsAccount(t *testing.T) {
	err := run(t.Context(), []string{"check"}, func(string) string { return "" }, &lines{}, &lines{})
	if err == nil || !strings.Contains(err.Error(), "LP_ACCOUNT") {
		t.Errorf("check without an account: %v, want it to ask for LP_ACCOUNT", err)
	}
}

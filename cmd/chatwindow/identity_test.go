package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/testing/brand"
)

// TestIdentitySettings: which identity the settings choose, and the
// settings that cannot go together refused with what to change.
func TestIdentitySettings(t *testing.T) {
	key := brand.Tutorial("brand_public_key.pem")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // the mode, or a part of the error
		wantErr bool
	}{
		{"default", nil, nil, identitySignup, false},
		{"connector from its id", nil, map[string]string{"LP_CONNECTOR_ID": "2105"}, identityConnector, false},
		{"connector on the embedded service", []string{"-identity", "connector"}, nil, identityConnector, false},
		{"connector on an account needs its id", []string{"-identity", "connector"}, map[string]string{"LP_ACCOUNT": "123"}, "LP_CONNECTOR_ID", true},
		{"a fixed token", nil, map[string]string{"LP_JWT": "x.y.z"}, identityToken, false},
		{"authenticated", nil, map[string]string{"CHATWINDOW_IDENTITY": "authenticated"}, identityAuthenticated, false},
		{"authenticated with the embedded service's key", []string{"-identity", "authenticated", "-auth-key", key}, nil, identityAuthenticated, false},
		{"a key that is no key", []string{"-identity", "authenticated", "-auth-key", brand.Tutorial("ext_jwt.txt")}, nil, "-auth-key", true},
		{"a key on an account", []string{"-identity", "authenticated", "-auth-key", key}, map[string]string{"LP_ACCOUNT": "123"}, "embedded service's", true},
		{"a key without authenticated customers", []string{"-auth-key", key}, nil, "embedded service's", true},
		{"a function name that is code", []string{"-identity", "authenticated", "-auth-method", "alert(1)"}, nil, "CHATWINDOW_AUTH_METHOD", true},
		{"an unknown mode", []string{"-identity", "oauth"}, nil, "want auto", true},
		{"a fixed token and the connector", nil, map[string]string{"LP_JWT": "x.y.z", "LP_CONNECTOR_ID": "2105"}, "LP_JWT", true},
		{"the connector's id with authenticated customers", []string{"-identity", "authenticated"}, map[string]string{"LP_CONNECTOR_ID": "2105"}, "LP_CONNECTOR_ID", true},
		{"a token lifetime of zero", []string{"-token-ttl", "0s"}, nil, "positive", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseWindow(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("parseWindow(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
			case !tt.wantErr && err != nil:
				t.Errorf("parseWindow(%q): %v", tt.args, err)
			case !tt.wantErr && c.identity.mode != tt.want:
				t.Errorf("parseWindow(%q): identity %q, want %q", tt.args, c.identity.mode, tt.want)
			}
		})
	}
}

// TestIdentityOfEmbeddedService: the embedded service gets the window's
// identity settings: the connector the window uses (a demo one when
// LP_CONNECTOR_ID names none), the brand's key, the token lifetimes.
func TestIdentityOfEmbeddedService(t *testing.T) {
	c, err := parseWindow([]string{"-identity", "connector", "-token-ttl", "90s", "-ext-token-ttl", "2m"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.identity.connector != demoConnector || c.identity.tokenTTL != 90*time.Second || c.identity.extTTL != 2*time.Minute {
		t.Errorf("identity %+v, want the demo connector, 90s and 2m", c.identity)
	}
	c, err = parseWindow([]string{"-identity", "authenticated", "-auth-key", brand.Tutorial("brand_public_key.pem")}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.identity.authKey == nil || c.identity.authMethod != "LPJsMethodName" {
		t.Errorf("identity %+v, want the tutorial's key and LPJsMethodName", c.identity)
	}
}

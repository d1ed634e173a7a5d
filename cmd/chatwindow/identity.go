package main

import (
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/chatwindow/chatwindow/internal/simulator"
)

// How the window's customers get their identity (docs/protocol.md,
// Identity).
const (
	identitySignup        = "signup"        // a demo signup each: LivePerson's "not for production"
	identityConnector     = "connector"     // the unauthenticated connector (LP_CONNECTOR_ID)
	identityAuthenticated = "authenticated" // the brand signs them in: its page's function
	identityToken         = "token"         // one fixed token for every visitor (LP_JWT), for trials
)

// demoConnector is the embedded service's unauthenticated connector when
// the window uses one and LP_CONNECTOR_ID names none.
const demoConnector = "2990001"

// identityConfig is what the identity settings decide.
type identityConfig struct {
	mode string
	// connector is the unauthenticated connector's id (connector mode).
	connector string
	// authMethod names the embedding page's sign-in function
	// (authenticated mode).
	authMethod string
	// token is every visitor's identity (token mode).
	token string

	// The embedded service's side: the brand's public key that verifies
	// its customers' JWTs (nil: taken unverified, a demo) and the
	// lifetimes of its tokens.
	authKey          *rsa.PublicKey
	authKeyFile      string
	tokenTTL, extTTL time.Duration
}

// identityFlags are the identity settings' flags on fs, read by parse.
type identityFlags struct {
	mode, connector, authMethod, authKey *string
	tokenTTL, extTTL                     *time.Duration
	getenv                               func(string) string
}

func addIdentityFlags(fs *flag.FlagSet, getenv func(string) string) identityFlags {
	return identityFlags{
		mode:       fs.String("identity", envOr(getenv, "CHATWINDOW_IDENTITY", "auto"), "how customers get their identity: signup (LivePerson's demo), connector (the unauthenticated connector), authenticated (the brand signs them in through its page's function); auto: connector when LP_CONNECTOR_ID is set, token when LP_JWT is, else signup"),
		connector:  fs.String("connector", getenv("LP_CONNECTOR_ID"), "the unauthenticated connector's id (identity connector); on the embedded service, a demo id when empty"),
		authMethod: fs.String("auth-method", envOr(getenv, "CHATWINDOW_AUTH_METHOD", "LPJsMethodName"), "identity authenticated: the name of the embedding page's JavaScript function that signs the customer in with the brand (LivePerson's \"JS Method Name\")"),
		authKey:    fs.String("auth-key", getenv("CHATWINDOW_AUTH_KEY"), "embedded service, identity authenticated: the brand's public key (PEM) that verifies its customers' JWTs; none: taken unverified, a demo"),
		tokenTTL:   fs.Duration("token-ttl", envDuration(getenv, "CHATWINDOW_TOKEN_TTL", 24*time.Hour), "embedded service: lifetime of its consumer tokens; a socket open at its token's expiry is closed (4401 authenticated, 4407 others)"),
		extTTL:     fs.Duration("ext-token-ttl", envDuration(getenv, "CHATWINDOW_EXT_TOKEN_TTL", 10*time.Minute), "embedded service: lifetime of the unauthenticated connector's id_token, which renews its customers' tokens (LivePerson's default: 10 min)"),
		getenv:     getenv,
	}
}

// parse checks the identity settings: one mode, with what it needs, and
// the embedded service's key read.
func (f identityFlags) parse(embedded bool) (identityConfig, error) {
	c := identityConfig{
		mode: *f.mode, connector: *f.connector, authMethod: *f.authMethod, token: f.getenv("LP_JWT"),
		authKeyFile: *f.authKey, tokenTTL: *f.tokenTTL, extTTL: *f.extTTL,
	}
	if c.mode == "auto" {
		switch {
		case c.connector != "":
			c.mode = identityConnector
		case c.token != "":
			c.mode = identityToken
		default:
			c.mode = identitySignup
		}
	}
	if c.tokenTTL <= 0 || c.extTTL <= 0 {
		return identityConfig{}, errors.New("-token-ttl and -ext-token-ttl must be positive")
	}
	switch c.mode {
	case identitySignup:
	case identityConnector:
		if c.connector == "" && !embedded {
			return identityConfig{}, errors.New("identity connector: which connector? Set LP_CONNECTOR_ID (the account's unauthenticated connector) or -connector")
		}
		if c.connector == "" {
			c.connector = demoConnector
		}
	case identityAuthenticated:
		if !validJSName(c.authMethod) {
			return identityConfig{}, fmt.Errorf("CHATWINDOW_AUTH_METHOD %q: want the name of a JavaScript function on the embedding page (letters, digits, _ and $)", c.authMethod)
		}
	case identityToken:
		if c.token == "" {
			return identityConfig{}, errors.New("identity token: set LP_JWT")
		}
	default:
		return identityConfig{}, fmt.Errorf("-identity %q: want auto, signup, connector, authenticated or token", c.mode)
	}
	if c.token != "" && c.mode != identityToken {
		return identityConfig{}, fmt.Errorf("LP_JWT makes every visitor the same consumer, which identity %s does not: unset one of them", c.mode)
	}
	if c.connector != "" && c.mode != identityConnector {
		return identityConfig{}, fmt.Errorf("LP_CONNECTOR_ID is for identity connector, not %s: unset one of them", c.mode)
	}
	if c.authKeyFile != "" {
		if !embedded || c.mode != identityAuthenticated {
			return identityConfig{}, errors.New("CHATWINDOW_AUTH_KEY (-auth-key) is the embedded service's, for identity authenticated: on LivePerson the key is the account's authentication connector's")
		}
		b, err := os.ReadFile(c.authKeyFile)
		if err != nil {
			return identityConfig{}, fmt.Errorf("-auth-key: %w", err)
		}
		if c.authKey, err = simulator.ParseBrandKey(b); err != nil {
			return identityConfig{}, fmt.Errorf("-auth-key %s: %w", c.authKeyFile, err)
		}
	}
	return c, nil
}

// validJSName reports whether s can name a function on the page's window
// (an identifier; nothing the page would evaluate).
func validJSName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// describe says how customers get their identity, for the start-up lines
// (never a token).
func (c identityConfig) describe() string {
	switch c.mode {
	case identityConnector:
		return "the unauthenticated connector " + c.connector
	case identityAuthenticated:
		return "authenticated by the brand: the embedding page's function " + c.authMethod
	case identityToken:
		return "one fixed token (LP_JWT) for every visitor"
	}
	return "a demo signup each (not for production)"
}

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// How `chatwindow check` gets its consumer token: the way the window gets
// its customers' (docs/protocol.md, Identity), so that a check passes only
// when the window's identity works on the account.

// idMode is one way of getting the consumer token.
type idMode int

const (
	// idSignup: a demo signup, the default (not for production).
	idSignup idMode = iota
	// idToken: LP_JWT, a ready consumer token.
	idToken
	// idConnector: the unauthenticated connector (LP_CONNECTOR_ID).
	idConnector
	// idAuthenticated: a brand's JWT, or an OAuth code, exchanged at the
	// IDP's authenticate (LP_AUTH_CODE).
	idAuthenticated
)

// checkIdentity is the identity settings check was given.
type checkIdentity struct {
	mode                  idMode
	token                 string // LP_JWT
	connector             string
	authCode, redirectURI string
	// connectorFrom and authCodeFrom name the settings that gave connector
	// and authCode (the flag or the variable), for the messages.
	connectorFrom, authCodeFrom string
}

// String describes the identity without any token or code in it.
func (id checkIdentity) String() string {
	switch id.mode {
	case idToken:
		return "LP_JWT (a ready consumer token)"
	case idConnector:
		return "unauthenticated connector " + id.connector
	case idAuthenticated:
		if id.redirectURI != "" {
			return fmt.Sprintf("authenticated by an OAuth code (%s, redirect_uri %s)", id.authCodeFrom, id.redirectURI)
		}
		return fmt.Sprintf("authenticated by a brand JWT (%s)", id.authCodeFrom)
	}
	return "demo signup (not for production)"
}

// checkIDFlags are check's identity flags, read by resolve after Parse.
type checkIDFlags struct {
	connector, authCode, redirectURI *string
}

func addCheckIDFlags(fs *flag.FlagSet) checkIDFlags {
	return checkIDFlags{
		connector: fs.String("connector", "", "the account's unauthenticated connector id (LP_CONNECTOR_ID): check its anonymous identity and its extension"),
		// No default from LP_AUTH_CODE here: -help prints defaults.
		authCode:    fs.String("auth-code", "", "a brand JWT (or an OAuth code) to exchange at the IDP's authenticate; LP_AUTH_CODE keeps it off the command line"),
		redirectURI: fs.String("redirect-uri", "", "with an OAuth code: the redirect_uri it was issued for (LP_AUTH_REDIRECT_URI)"),
	}
}

// resolve picks the identity from the flags and the environment (a flag
// wins over its variable), refusing settings that contradict each other.
func (f checkIDFlags) resolve(fs *flag.FlagSet, getenv func(string) string) (checkIdentity, error) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	setting := func(name, env string) (value, from string) {
		if given[name] {
			return strings.TrimSpace(fs.Lookup(name).Value.String()), "-" + name
		}
		return strings.TrimSpace(getenv(env)), env
	}
	id := checkIdentity{token: strings.TrimSpace(getenv("LP_JWT"))}
	id.connector, id.connectorFrom = setting("connector", "LP_CONNECTOR_ID")
	id.authCode, id.authCodeFrom = setting("auth-code", "LP_AUTH_CODE")
	redirectURI, redirectFrom := setting("redirect-uri", "LP_AUTH_REDIRECT_URI")
	id.redirectURI = redirectURI

	var set []string
	if id.token != "" {
		set = append(set, "LP_JWT")
	}
	if id.connector != "" {
		set = append(set, id.connectorFrom)
	}
	if id.authCode != "" {
		set = append(set, id.authCodeFrom)
	}
	if len(set) > 1 {
		return checkIdentity{}, fmt.Errorf("%s each give the customer's identity: set only one (LP_JWT a ready consumer token, LP_CONNECTOR_ID the unauthenticated connector, LP_AUTH_CODE a brand JWT or OAuth code)", andList(set))
	}
	// The window's identity (CHATWINDOW_IDENTITY, identity.go) says what
	// check must try. Its authenticated customers are signed in by their
	// page, which check has not: it needs a brand JWT of its own.
	switch mode := getenv("CHATWINDOW_IDENTITY"); mode {
	case identityAuthenticated:
		if id.connector != "" {
			return checkIdentity{}, fmt.Errorf("CHATWINDOW_IDENTITY=%s and %s each give the window's identity (customers signed in by their page, or the connector's anonymous ones): unset one", mode, id.connectorFrom)
		}
		if id.authCode == "" && id.token == "" {
			return checkIdentity{}, fmt.Errorf("CHATWINDOW_IDENTITY=%s has the page sign customers in with the brand's JWT: give check one from the brand's login in LP_AUTH_CODE (or -auth-code)", mode)
		}
	case identityConnector:
		if id.connector == "" {
			return checkIdentity{}, fmt.Errorf("CHATWINDOW_IDENTITY=%s: which connector? Set LP_CONNECTOR_ID (or -connector)", mode)
		}
	}
	if id.redirectURI != "" {
		if id.authCode == "" {
			return checkIdentity{}, fmt.Errorf("%s goes with an OAuth code: set LP_AUTH_CODE (or -auth-code) to the code", redirectFrom)
		}
		if u, err := url.Parse(id.redirectURI); err != nil || !u.IsAbs() || u.Host == "" {
			return checkIdentity{}, fmt.Errorf("%s %q is not an absolute URL (the redirect_uri the code was issued for)", redirectFrom, id.redirectURI)
		}
	}
	switch {
	case id.token != "":
		id.mode = idToken
	case id.connector != "":
		id.mode = idConnector
	case id.authCode != "":
		id.mode = idAuthenticated
	default:
		id.mode = idSignup
	}
	return id, nil
}

// andList joins names as "a and b" or "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// tokenSteps are the steps that get the consumer token.
func (c *checker) tokenSteps() []checkStep {
	switch c.cfg.id.mode {
	case idConnector:
		return []checkStep{
			{"connector authorize", c.connectorAuthorize, c.connectorAdvice},
			{"connector authenticate", c.connectorAuthenticate, c.connectorAdvice},
		}
	case idAuthenticated:
		return []checkStep{{"authenticate", c.authenticate, c.authenticateAdvice}}
	}
	return []checkStep{{"token", c.getToken, c.tokenAdvice}}
}

// connectorAuthorize asks the IDP for a new anonymous identity.
func (c *checker) connectorAuthorize(ctx context.Context) (string, error) {
	idToken, err := messaging.AnonymousAuthorize(ctx, c.hc, c.ep, "")
	if err != nil {
		return "", err
	}
	c.idToken = idToken
	claims, err := messaging.ReadClaims(idToken)
	if err != nil {
		return "", fmt.Errorf("the id_token is not a JWT: %w", err)
	}
	detail := "a new anonymous identity"
	if !claims.Exp.IsZero() {
		detail += fmt.Sprintf("; its id_token expires in %s", time.Until(claims.Exp).Round(time.Minute))
	}
	return detail, nil
}

// connectorAuthenticate exchanges the id_token at the connector.
func (c *checker) connectorAuthenticate(ctx context.Context) (string, error) {
	tok, err := messaging.ConnectorAuthenticate(ctx, c.hc, c.ep, c.cfg.id.connector, c.idToken)
	if err != nil {
		return "", err
	}
	c.token = tok
	return describeToken(tok)
}

// errAnotherConsumer: the extended identity is not the consumer it was.
var errAnotherConsumer = errors.New("the extended identity is another consumer")

// extendIdentity does what the window does on 4407: the id_token
// refreshed and exchanged again must give a token of the same consumer,
// or the customer's open conversation would be lost.
func (c *checker) extendIdentity(ctx context.Context) (string, error) {
	next, err := messaging.ExtendConnectorIdentity(ctx, c.hc, c.ep, c.cfg.id.connector, c.idToken)
	if err != nil {
		return "", err
	}
	was, err := messaging.Subject(c.token)
	if err != nil {
		return "", fmt.Errorf("the first token: %w", err)
	}
	now, err := messaging.Subject(next.Token)
	if err != nil {
		return "", fmt.Errorf("the extended token: %w", err)
	}
	if now != was {
		return "", fmt.Errorf("%w: consumer %s, was %s", errAnotherConsumer, now, was)
	}
	detail, err := describeToken(next.Token)
	if err != nil {
		return "", err
	}
	return "the refreshed id_token keeps the same " + detail, nil
}

func (c *checker) connectorAdvice(err error) string {
	var se *messaging.StatusError
	if !errors.As(err, &se) {
		return c.idpAdvice(err)
	}
	r := readIDPError(se)
	switch {
	case se.Op == messaging.OpConnectorAuthenticate && (se.StatusCode == http.StatusNotFound || r.reason == reasonNoConnector):
		return fmt.Sprintf("%s %s is not a connector of account %s: use the CONNECTOR_ID LivePerson's administrator gave for the account's unauthenticated connector", c.cfg.id.connectorFrom, c.cfg.id.connector, c.cfg.account)
	case se.StatusCode == http.StatusNotFound || r.reason == reasonNoUnauth:
		return fmt.Sprintf("account %s has no unauthenticated messaging at the IDP %s (%s): LivePerson's administrator enables Messaging.Un_Auth_Messaging and creates the connector; until then unset %s", c.cfg.account, c.ep.IDP, r.text, c.cfg.id.connectorFrom)
	case se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden || r.reason != reasonUnknown:
		return fmt.Sprintf("the IDP refused the id_token it issued itself (%s): LP_IDP must be the account's own IDP (leave it unset to use the domain API's)", r.text)
	}
	return c.idpAdvice(err)
}

func (c *checker) extendAdvice(err error) string {
	var se *messaging.StatusError
	switch {
	case errors.Is(err, errAnotherConsumer):
		return "the IDP's refresh made another consumer: after a 4407 the window would lose the customer's open conversation; ask LivePerson about the account's unauthenticated connector"
	case errors.As(err, &se) && se.Op == messaging.OpAnonymousAuthorize && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden):
		return fmt.Sprintf("the IDP refused to refresh the id_token it issued a moment ago (%s): every 4407 would make the window start a new consumer; ask LivePerson about the connector's refresh period (730 hours by default)", readIDPError(se).text)
	}
	return c.connectorAdvice(err)
}

// authenticate exchanges the brand's JWT (or OAuth code) at the IDP, as
// the window does with what the customer's page gives, and describes the
// identity without the token: the brand's sub, the expiries.
func (c *checker) authenticate(ctx context.Context) (string, error) {
	id := c.cfg.id
	tok, err := messaging.AuthenticateCode(ctx, c.hc, c.ep, protocol.AuthenticateRequest{AuthCode: id.authCode, RedirectURI: id.redirectURI})
	if err != nil {
		return "", err
	}
	c.token = tok
	consumer, err := describeToken(tok)
	if err != nil {
		return "", err
	}
	var lp struct {
		Ext *protocol.LPExt `json:"lp.ext"`
	}
	detail := "not an authenticated identity (the token has no lp.ext)"
	if jwtPayload(tok, &lp) && lp.Ext != nil {
		detail = "authenticated as brand sub " + lp.Ext.Sub
	}
	if brand, ok := readBrandJWT(id.authCode); ok && !brand.exp.IsZero() {
		detail += fmt.Sprintf(" (brand JWT expires %s)", brand.exp.UTC().Format(time.RFC3339))
	}
	return detail + "; " + consumer, nil
}

func (c *checker) authenticateAdvice(err error) string {
	var se *messaging.StatusError
	if !errors.As(err, &se) {
		return c.idpAdvice(err)
	}
	id := c.cfg.id
	brand, isJWT := readBrandJWT(id.authCode)
	r := readIDPError(se)
	switch r.reason {
	case reasonSignature:
		return "the account's authentication connector has another public key than the one that signed this JWT: put the brand's public key in the connector's \"JWT Public Key\" (Campaign Builder > Data Sources > Authentication Server), or sign with the private key that goes with it"
	case reasonExpired:
		if isJWT && !brand.exp.IsZero() {
			advice := fmt.Sprintf("the brand JWT expired at %s: get a fresh one from the brand's login", brand.exp.UTC().Format(time.RFC3339))
			if brand.exp.After(time.Now()) {
				advice += " (this machine's clock says it is still valid: check the clocks)"
			}
			return advice
		}
		return "the brand JWT has expired: get a fresh one from the brand's login"
	case reasonAudience:
		aud := "its aud"
		if isJWT && len(brand.aud) > 0 {
			aud = fmt.Sprintf("its aud %q", strings.Join(brand.aud, ", "))
		}
		return fmt.Sprintf("the brand JWT was made for another account (%s): the brand's login must issue it for account %s, aud \"acc:%s\"", aud, c.cfg.account, c.cfg.account)
	case reasonIssuer:
		iss := "the brand JWT's iss"
		if isJWT {
			iss = fmt.Sprintf("the brand JWT's iss %q", brand.iss)
		}
		return iss + " is not the issuer the account's authentication connector names: make the brand's login and the connector agree"
	case reasonMalformed:
		return fmt.Sprintf("the IDP cannot read %s as a brand JWT (%s): it must be an RS256 JWT with sub, iss, iat and exp; with a code-flow connector, an OAuth code and -redirect-uri", id.authCodeFrom, r.text)
	case reasonCodeFlow:
		return "the account's authentication connector could not exchange the code at the brand's token endpoint: a code is used once and lives briefly, so get a fresh one; LP_AUTH_REDIRECT_URI must be the redirect_uri it was issued for; check the connector's token endpoint and client credentials"
	case reasonNoConnector:
		return fmt.Sprintf("account %s has no working authentication connector (%s): configure one in Campaign Builder > Data Sources > Authentication Server, or ask LivePerson's administrator to provision authentication", c.cfg.account, r.text)
	case reasonAccount:
		return fmt.Sprintf("the IDP at %s does not know account %s: check LP_IDP and LP_ACCOUNT", c.ep.IDP, c.cfg.account)
	}
	if se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden || se.StatusCode == http.StatusBadRequest {
		return fmt.Sprintf("the IDP refused %s (%s): it must be a brand JWT for account %s signed with the key of the account's authentication connector", id.authCodeFrom, r.text, c.cfg.account)
	}
	return c.idpAdvice(err)
}

// idpReason is why the IDP refused an identity, as far as check can tell.
type idpReason int

const (
	reasonUnknown idpReason = iota
	reasonSignature
	reasonExpired
	reasonAudience
	reasonIssuer
	reasonMalformed
	reasonCodeFlow    // the brand's token endpoint refused the code
	reasonNoConnector // the connector is missing or misconfigured
	reasonNoUnauth    // no unauthenticated messaging on the account
	reasonAccount
)

// idpError is an IDP's refusal read: its reason and its text as shown.
type idpError struct {
	reason idpReason
	text   string
}

// lpIDPCodes are LivePerson's IDP's internal error codes: its refusals
// carry one, {"internalErrorCode":"9007"}, often with HTTP 500 whatever the
// cause, so the code and not the status says what is wrong.
var lpIDPCodes = map[string]idpReason{
	"9007": reasonSignature,   // CUSTOMER_JWT_NOT_VALID: not the connector's public key
	"1028": reasonSignature,   // RSA_VERIFIER_INIT_ERROR: the connector's public key is not valid
	"2002": reasonSignature,   // NON_AUTH_JWT_INVALID_SIGNATURE
	"1012": reasonExpired,     // JWT_EXPIRED
	"1001": reasonMalformed,   // PARSE_ERROR
	"1008": reasonMalformed,   // JWT_NOT_VALID: not in JWT format
	"1009": reasonMalformed,   // JWT_PARSING_ERROR
	"1011": reasonMalformed,   // JWT_MISSING_CALIMESET (sic)
	"9012": reasonMalformed,   // INPUT_VALIDATION_ERROR
	"9011": reasonCodeFlow,    // CUSTOMER_AUTH_FAILED: the brand's site refused the code
	"9013": reasonCodeFlow,    // AUTHENTICATION_TIMEOUT: the brand's endpoint timed out
	"1023": reasonNoConnector, // AC_CONNECTOR_FAILED
	"1024": reasonNoConnector, // AC_CONNECTOR_NOT_FOUND
	"1025": reasonNoConnector, // AC_CONNECTOR_TYPE_NOT_FOUND
	"9015": reasonNoConnector, // UNSUPPORTED_AUTH_TYPE
	"2004": reasonAccount,     // NON_AUTH_JWT_WRONG_ACCOUNT_ID
	"2005": reasonNoUnauth,    // NON_AUTH_JWT_MESSAGING_FEATURE_OFF
}

// readIDPError reads an IDP's refusal: LivePerson's internalErrorCode, its
// {"error":{"message":…,"internalCode":10}} of a code the brand's token
// endpoint refused, or the embedded service's {"error":"bad authCode:
// <reason>"} (docs/simulator.md, HTTP).
func readIDPError(se *messaging.StatusError) idpError {
	text := se.Text
	if text == "" {
		text = fmt.Sprintf("HTTP %d", se.StatusCode)
	}
	var lp struct {
		InternalErrorCode json.Number     `json:"internalErrorCode"`
		Error             json.RawMessage `json:"error"`
	}
	if json.Unmarshal([]byte(se.Text), &lp) == nil {
		if r, ok := lpIDPCodes[lp.InternalErrorCode.String()]; ok {
			return idpError{r, text}
		}
		var e struct {
			Message      string `json:"message"`
			InternalCode int    `json:"internalCode"`
		}
		if json.Unmarshal(lp.Error, &e) == nil && e.Message != "" {
			if e.InternalCode == 10 {
				return idpError{reasonCodeFlow, e.Message}
			}
			return idpError{reasonUnknown, e.Message}
		}
	}
	low := strings.ToLower(se.Text)
	for _, m := range []struct {
		word   string
		reason idpReason
	}{
		{"signature", reasonSignature},
		{"expired", reasonExpired},
		{"audience", reasonAudience},
		{"issuer", reasonIssuer},
		{"malformed", reasonMalformed},
		{"unknown connector", reasonNoConnector},
		{"no unauthenticated connector", reasonNoUnauth},
		{"unknown account", reasonAccount},
	} {
		if strings.Contains(low, m.word) {
			return idpError{m.reason, text}
		}
	}
	return idpError{reasonUnknown, text}
}

// brandJWT is what check reads of a brand's JWT (unverified) to explain a
// refusal.
type brandJWT struct {
	iss string
	aud []string
	exp time.Time
}

// readBrandJWT reads code's claims; false when it is no JWT (an OAuth
// code).
func readBrandJWT(code string) (brandJWT, bool) {
	var c struct {
		Iss string           `json:"iss"`
		Aud protocol.Strings `json:"aud"`
		Exp float64          `json:"exp"`
	}
	if !jwtPayload(code, &c) {
		return brandJWT{}, false
	}
	b := brandJWT{iss: c.Iss, aud: c.Aud}
	if c.Exp > 0 {
		b.exp = time.Unix(int64(c.Exp), 0)
	}
	return b, true
}

// jwtPayload decodes a compact JWT's payload into v, unverified.
func jwtPayload(token string, v any) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	return err == nil && json.Unmarshal(b, v) == nil
}

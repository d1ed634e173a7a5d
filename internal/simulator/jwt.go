package simulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/jws"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// tokenIssuer signs and verifies the tokens of the IDP (RS256 JWTs): the
// consumer tokens that open sockets and the unauthenticated connector's
// external id_tokens, with a key that lives as long as the Service: tokens
// do not survive a restart of the service, and neither do the
// conversations they name.
type tokenIssuer struct {
	key     *rsa.PrivateKey
	account string
	now     func() time.Time
}

// Issuers of the service's tokens. A consumer token is only taken from
// tokenIssuerName, so an external id_token cannot open a socket, nor a
// consumer token pass for an id_token.
const (
	tokenIssuerName = "chatwindow-simulator"
	idTokenIssuer   = "chatwindow-simulator/anonymous"
)

// claims are the claims of the service's tokens. aud names the account
// ("acc:<account>") so that a token of another account is refused; lp.ext
// marks a consumer authenticated by its brand (docs/simulator.md).
type claims struct {
	Sub   string          `json:"sub"`
	Iss   string          `json:"iss"`
	Aud   string          `json:"aud"`
	Iat   int64           `json:"iat"`
	Exp   int64           `json:"exp"`
	LPExt *protocol.LPExt `json:"lp.ext,omitempty"`
}

// authenticated reports whether the token names a brand-authenticated
// consumer; the others (signup, the unauthenticated connector) are
// unauthenticated identities.
func (c claims) authenticated() bool { return c.LPExt != nil }

// The reasons a token is refused; the HTTP and socket answers name them.
var (
	errTokenMalformed = errors.New("token malformed")
	errTokenSignature = errors.New("token signature invalid")
	errTokenExpired   = errors.New("token expired")
	errTokenAccount   = errors.New("token of another account")
	errTokenIssuer    = errors.New("token issuer not accepted")
)

var b64 = base64.RawURLEncoding

// issue signs a token of issuer iss for subject sub that expires at exp.
func (t *tokenIssuer) issue(iss, sub string, exp time.Time, ext *protocol.LPExt) (string, error) {
	return jws.SignRS256(t.key, claims{
		Sub:   sub,
		Iss:   iss,
		Aud:   "acc:" + t.account,
		Iat:   t.now().Unix(),
		Exp:   exp.Unix(),
		LPExt: ext,
	})
}

// verify checks a consumer token (iss tokenIssuerName).
func (t *tokenIssuer) verify(token string) (claims, error) {
	return t.verifyAs(tokenIssuerName, token)
}

// verifyAs checks a token's signature, issuer, account and expiry (against
// the service clock), and returns its claims. An expired token's claims
// come back with errTokenExpired: the caller picks its close code by them.
func (t *tokenIssuer) verifyAs(iss, token string) (claims, error) {
	if len(token) > maxJWTChars {
		return claims{}, errTokenMalformed
	}
	p, err := splitJWT(token)
	if err != nil {
		return claims{}, err
	}
	if err := p.verifyRS256(&t.key.PublicKey); err != nil {
		return claims{}, err
	}
	var c claims
	if err := json.Unmarshal(p.payload, &c); err != nil || c.Sub == "" {
		return claims{}, errTokenMalformed
	}
	if c.Iss != iss {
		return claims{}, errTokenIssuer
	}
	if c.Aud != "acc:"+t.account {
		return claims{}, errTokenAccount
	}
	if t.now().Unix() >= c.Exp {
		return c, errTokenExpired
	}
	return c, nil
}

// jwtParts is a compact JWS taken apart.
type jwtParts struct {
	alg     string
	payload []byte // the decoded JSON claims
	signed  string // header.payload, what the signature covers
	sig     []byte
}

// splitJWT takes a compact JWS apart; anything else (five-part JWE
// included) is malformed.
func splitJWT(token string) (jwtParts, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return jwtParts{}, errTokenMalformed
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return jwtParts{}, errTokenMalformed
	}
	payload, err := b64.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || !json.Valid(payload) {
		return jwtParts{}, errTokenMalformed
	}
	sig, err := b64.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return jwtParts{}, errTokenMalformed
	}
	return jwtParts{alg: header.Alg, payload: payload, signed: parts[0] + "." + parts[1], sig: sig}, nil
}

// verifyRS256 checks the signature with key; only RS256 is taken (none,
// HMAC and the rest are refused).
func (p jwtParts) verifyRS256(key *rsa.PublicKey) error {
	if p.alg != "RS256" {
		return fmt.Errorf("%w: alg %q, want RS256", errTokenSignature, p.alg)
	}
	sum := sha256.Sum256([]byte(p.signed))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], p.sig); err != nil {
		return errTokenSignature
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := b64.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

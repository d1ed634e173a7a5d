package simulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tokenIssuer signs and verifies the consumer tokens (RS256 JWTs) of the
// IDP, with a key that lives as long as the Service: tokens do not survive
// a restart of the service, and neither do the conversations they name.
type tokenIssuer struct {
	key     *rsa.PrivateKey
	account string
	now     func() time.Time
}

// tokenIssuerName is the iss claim of every consumer token.
const tokenIssuerName = "chatwindow-simulator"

// claims are the claims of a consumer token. aud names the account
// ("acc:<account>") so that a token of another account is refused.
type claims struct {
	Sub string `json:"sub"`
	Iss string `json:"iss"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

var (
	errTokenMalformed = errors.New("token malformed")
	errTokenSignature = errors.New("token signature invalid")
	errTokenExpired   = errors.New("token expired")
	errTokenAccount   = errors.New("token of another account")
)

var b64 = base64.RawURLEncoding

// issue signs a token for consumer sub that expires at exp.
func (t *tokenIssuer) issue(sub string, exp time.Time) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	if err != nil {
		return "", fmt.Errorf("encode token header: %w", err)
	}
	payload, err := json.Marshal(claims{
		Sub: sub,
		Iss: tokenIssuerName,
		Aud: "acc:" + t.account,
		Iat: t.now().Unix(),
		Exp: exp.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("encode token claims: %w", err)
	}
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, t.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// verify checks a token's signature, expiry (against the service clock)
// and account, and returns its claims.
func (t *tokenIssuer) verify(token string) (claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > maxJWTChars {
		return claims{}, errTokenMalformed
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return claims{}, errTokenMalformed
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return claims{}, errTokenMalformed
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&t.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return claims{}, errTokenSignature
	}
	var c claims
	if err := decodeSegment(parts[1], &c); err != nil || c.Sub == "" {
		return claims{}, errTokenMalformed
	}
	if c.Aud != "acc:"+t.account {
		return claims{}, errTokenAccount
	}
	if t.now().Unix() >= c.Exp {
		return claims{}, errTokenExpired
	}
	return c, nil
}

// brandClaims reads the sub and exp of a brand's identity token (the
// authenticate request's authCode). The service has no key of the brand's
// identity provider, so the signature is not checked; the shape, sub and
// expiry are.
func (t *tokenIssuer) brandClaims(authCode string) (sub string, exp time.Time, err error) {
	parts := strings.Split(authCode, ".")
	if len(parts) != 3 {
		return "", time.Time{}, errTokenMalformed
	}
	var c struct {
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if err := decodeSegment(parts[1], &c); err != nil || c.Sub == "" || c.Exp == 0 {
		return "", time.Time{}, errTokenMalformed
	}
	exp = time.Unix(int64(c.Exp), 0)
	if !t.now().Before(exp) {
		return "", time.Time{}, errTokenExpired
	}
	// The LivePerson consumer id of an authenticated consumer is a 64-hex id
	// derived from the brand's sub (docs/protocol.md, Identity).
	h := sha256.Sum256([]byte(t.account + "\x00" + c.Sub))
	return hex.EncodeToString(h[:]), exp, nil
}

func decodeSegment(seg string, v any) error {
	b, err := b64.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

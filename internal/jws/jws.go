// Package jws signs JSON Web Tokens with RS256, the one algorithm
// LivePerson's identities use (docs/protocol.md, Identity): the embedded
// service's consumer tokens, the demo site's brand tokens, and the brand
// tokens tests sign.
package jws

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

var b64 = base64.RawURLEncoding

// SignRS256 signs payload (any JSON-encodable value) with key as a compact
// JWS: header {"alg":"RS256","typ":"JWT"}, payload, signature.
func SignRS256(key *rsa.PrivateKey, payload any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	if err != nil {
		return "", fmt.Errorf("encode token header: %w", err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("encode token claims: %w", err)
	}
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

package simulator

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Authenticated customers (docs/simulator.md, HTTP: authenticate): the
// brand's identity token (its authCode) is checked against the brand's
// public key and exchanged for a consumer token whose lp.ext names the
// brand identity.

// ParseBrandKey reads the brand's RS256 public key, the "JWT Public Key" of
// LivePerson's authentication connector, as a PEM "PUBLIC KEY" (X.509
// SubjectPublicKeyInfo), a PEM "RSA PUBLIC KEY" (PKCS #1), or the bare
// base64 of the X.509 key as it is pasted into the connector's field.
func ParseBrandKey(b []byte) (*rsa.PublicKey, error) {
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type == "RSA PUBLIC KEY" {
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("brand key: %w", err)
			}
			return k, nil
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("brand key: PEM block %q, want PUBLIC KEY", block.Type)
		}
		der = block.Bytes
	} else {
		// The connector's field holds the key without its PEM lines; the
		// Authentication tutorial prints it with a full stop after it.
		text := bytes.TrimSuffix(bytes.Join(bytes.Fields(b), nil), []byte("."))
		var err error
		if der, err = base64.StdEncoding.DecodeString(string(text)); err != nil {
			return nil, fmt.Errorf("brand key: neither PEM nor base64: %w", err)
		}
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("brand key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("brand key: a %T, want an RSA key (RS256)", k)
	}
	return rk, nil
}

// brandIdentity is what a brand's identity token says of its customer.
type brandIdentity struct {
	sub, iss string
	exp      time.Time
	// claims is the token's payload as the brand sent it (lp_sdes and the
	// standard claims among them): agents read it in GetUserProfile.
	claims json.RawMessage
	// details stands for the customer details in claims: lp.ext's lp_sdes.
	details string
}

// errTokenAudience refuses a brand token made for another account.
var errTokenAudience = errors.New("token audience is not this account")

// brandToken checks a brand's identity token. With the brand's key
// (Config.AuthKey) the signature (RS256), the mandatory claims of the
// Authentication Detailed API (iss, iat, exp; sub), the issuer when
// Config.AuthIssuer names it, the audience when the token has one, and
// expiry are checked, in that order. Without the key only sub and a
// future exp are, as a demo.
func (s *Service) brandToken(authCode string) (brandIdentity, error) {
	p, err := splitJWT(authCode)
	if err != nil {
		return brandIdentity{}, err
	}
	key := s.cfg.AuthKey
	if key != nil {
		if err := p.verifyRS256(key); err != nil {
			return brandIdentity{}, err
		}
	}
	var c struct {
		Sub    string                         `json:"sub"`
		Iss    string                         `json:"iss"`
		Aud    protocol.Strings               `json:"aud"`
		Exp    *float64                       `json:"exp"`
		Iat    *float64                       `json:"iat"`
		LPSDEs protocol.List[json.RawMessage] `json:"lp_sdes"`
	}
	if err := json.Unmarshal(p.payload, &c); err != nil {
		return brandIdentity{}, fmt.Errorf("%w: %v", errTokenMalformed, err)
	}
	switch {
	case c.Sub == "":
		return brandIdentity{}, fmt.Errorf("%w: no sub", errTokenMalformed)
	case c.Exp == nil:
		return brandIdentity{}, fmt.Errorf("%w: no exp", errTokenMalformed)
	}
	if err := checkSDEs(c.LPSDEs, false); err != nil {
		return brandIdentity{}, fmt.Errorf("%w: lp_sdes: %v", errTokenMalformed, err)
	}
	if key != nil {
		if c.Iss == "" || c.Iat == nil {
			return brandIdentity{}, fmt.Errorf("%w: iss, iat and exp are mandatory", errTokenMalformed)
		}
		if want := s.cfg.AuthIssuer; want != "" && c.Iss != want {
			return brandIdentity{}, fmt.Errorf("%w: iss %q, want %q", errTokenIssuer, c.Iss, want)
		}
		if aud := "acc:" + s.cfg.Account; len(c.Aud) > 0 && !slices.Contains(c.Aud, aud) {
			return brandIdentity{}, fmt.Errorf("%w: aud %q, want %q", errTokenAudience, []string(c.Aud), aud)
		}
	}
	exp := time.Unix(int64(*c.Exp), 0)
	if !s.cfg.Now().Before(exp) {
		return brandIdentity{}, errTokenExpired
	}
	return brandIdentity{
		sub: c.Sub, iss: c.Iss, exp: exp,
		claims:  sdesAsArray(p.payload, c.LPSDEs),
		details: detailsDigest(p.payload),
	}, nil
}

// sdesAsArray returns the claims with lp_sdes as an array even when the
// brand sent a single SDE as the element itself: node-agent-sdk iterates
// claims.lp_sdes as an array.
func sdesAsArray(payload []byte, sdes []json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if len(sdes) == 0 || json.Unmarshal(payload, &m) != nil {
		return bytes.Clone(payload)
	}
	list, err := json.Marshal(sdes)
	if err != nil {
		return bytes.Clone(payload)
	}
	m["lp_sdes"] = list
	out, err := json.Marshal(m)
	if err != nil {
		return bytes.Clone(payload)
	}
	return out
}

// detailsDigest is lp.ext's lp_sdes: LivePerson's is an opaque hex string
// (Authentication tutorial, Step 2). Ours is the SHA-256 of the customer
// details in the claims (all but the token's own exp, iat, nbf, aud, jti),
// so that tokens of the same details carry the same value and the token
// stays short whatever the details.
func detailsDigest(payload []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return ""
	}
	for _, k := range []string{"exp", "iat", "nbf", "aud", "jti"} {
		delete(m, k)
	}
	b, err := json.Marshal(m) // keys sorted: the same details, the same digest
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// brandConsumerID is the consumer id of a brand's customer: 64 hex digits
// derived from the account and the brand's sub (as LivePerson's example
// answer shows), so the same sub is the same consumer on every device.
func brandConsumerID(account, sub string) string {
	h := sha256.Sum256([]byte(account + "\x00" + sub))
	return hex.EncodeToString(h[:])
}

// handleAuthenticate exchanges a brand's identity token for a consumer
// token: sub the brand customer's consumer id, exp the brand token's
// (capped at TokenTTL), lp.ext the brand identity.
func (s *Service) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	if !s.knownAccount(w, r) {
		return
	}
	var req protocol.AuthenticateRequest
	if err := decodeJSON(r, &req); err != nil || req.AuthCode == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"authCode\":\"<jwt>\"}")
		return
	}
	id, err := s.brandToken(req.AuthCode)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "bad authCode: "+err.Error())
		return
	}
	consumerID := brandConsumerID(s.cfg.Account, id.sub)
	exp := id.exp
	if limit := s.cfg.Now().Add(s.cfg.TokenTTL); limit.Before(exp) {
		exp = limit
	}
	token, err := s.tokens.issue(tokenIssuerName, consumerID, exp, &protocol.LPExt{Sub: id.sub, Iss: id.iss, LPSDEs: id.details})
	if err != nil {
		s.log.Error("authenticate", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot issue token")
		return
	}
	s.mu.Lock()
	// The latest token's claims replace the earlier ones; the consumer's
	// conversations and profile stay.
	s.ensureConsumer(consumerID).brand = &id
	s.mu.Unlock()
	s.log.Info("consumer authenticated", "consumer_id", consumerID, "verified", s.cfg.AuthKey != nil)
	writeJSON(w, http.StatusOK, protocol.SignupResponse{JWT: token})
}

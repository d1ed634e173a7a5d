// Package brand plays a brand's identity provider in tests: it signs the
// brand's identity tokens (RS256 JWTs) that the messaging service's
// authenticate takes, with the key pair LivePerson's Authentication
// tutorial publishes (internal/simulator/testdata/lptutorial).
package brand

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/jws"
)

// TutorialAccount is the account of the tutorial's sample token.
const TutorialAccount = "qa57221676"

// Tutorial is the path of one of the tutorial's files: brand_public_key.pem,
// brand_private_key.pem, ext_jwt.txt, lp_auth_jwt.txt.
func Tutorial(name string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "simulator", "testdata", "lptutorial", name)
}

// TutorialKey is the tutorial's private key, the brand's signing key.
var TutorialKey = sync.OnceValue(func() *rsa.PrivateKey {
	b, err := os.ReadFile(Tutorial("brand_private_key.pem"))
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		panic("brand_private_key.pem: no PEM block")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return k
})

// Claims are a brand token's claims for customer sub of account, issued
// at now and valid for ttl.
func Claims(account, sub string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"sub": sub, "iss": "https://brand.example", "aud": "acc:" + account,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
}

// Sign signs claims as the brand's identity provider (RS256 with key).
func Sign(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	return jws.SignRS256(key, claims)
}

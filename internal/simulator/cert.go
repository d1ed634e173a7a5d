package simulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certLifetime is the validity of a generated certificate. An expired one
// is replaced on the next start.
const certLifetime = 365 * 24 * time.Hour

// LoadOrCreateCert loads a TLS certificate and key from PEM files. When
// either file is missing (or the certificate has expired) it generates a
// self-signed ECDSA certificate for localhost, 127.0.0.1 and ::1, writes
// both files and reports created. The certificate is its own CA (IsCA,
// KeyUsageCertSign), so clients trust it directly: NODE_EXTRA_CA_CERTS for
// LivePerson's Node.js agent SDK, SSL_CERT_FILE for Go.
func LoadOrCreateCert(certFile, keyFile string) (tls.Certificate, bool, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	switch {
	case err == nil && cert.Leaf != nil && time.Now().Before(cert.Leaf.NotAfter):
		return cert, false, nil
	case err == nil:
		// Expired: make a new one.
	case errors.Is(err, fs.ErrNotExist):
	default:
		return tls.Certificate{}, false, fmt.Errorf("load certificate %s: %w", certFile, err)
	}
	certPEM, keyPEM, err := newSelfSigned(time.Now())
	if err != nil {
		return tls.Certificate{}, false, err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{certFile, certPEM, 0o644}, {keyFile, keyPEM, 0o600}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return tls.Certificate{}, false, fmt.Errorf("create directory of %s: %w", f.path, err)
		}
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return tls.Certificate{}, false, fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("load generated certificate: %w", err)
	}
	return cert, true, nil
}

// newSelfSigned returns a PEM certificate and PKCS#8 key.
func newSelfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "chatwindow simulator (localhost)", Organization: []string{"chatwindow"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode certificate key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

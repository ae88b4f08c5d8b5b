package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// basicAuthConfig returns web-config lines for one user with a bcrypt hash
// of pass, as an operator would write them.
func basicAuthConfig(t *testing.T, user, pass string) string {
	t.Helper()
	return basicAuthUsers(t, user, pass)
}

// basicAuthUsers returns web-config lines for several users, given as
// user, password, user, password...
func basicAuthUsers(t *testing.T, userPass ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("basic_auth_users:\n")
	for i := 0; i+1 < len(userPass); i += 2 {
		hash, err := bcrypt.GenerateFromPassword([]byte(userPass[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  " + userPass[i] + ": " + string(hash) + "\n")
	}
	return b.String()
}

// TestBasicAuth: every path is behind the users of --web.config.file.
func TestBasicAuth(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "web.yml", basicAuthConfig(t, "prometheus", "s3cret"))
	s := start(t, "--web.config.file="+cfg)
	c := &http.Client{}
	for _, path := range []string{"/metrics", "/", "/-/healthy"} {
		url := "http://" + s.addr + path
		if code, _ := get(t, c, url, "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: status %d, want 401", path, code)
		}
		if code, _ := get(t, c, url, "prometheus", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: status %d, want 401", path, code)
		}
		if code, _ := get(t, c, url, "prometheus", "s3cret"); code != http.StatusOK {
			t.Errorf("GET %s with credentials: status %d, want 200", path, code)
		}
	}
}

// TestTLSAndBasicAuth: HTTPS with a certificate from --web.config.file, and
// basic auth inside it; plain HTTP is refused.
func TestTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	cert := writeFile(t, dir, "tls.crt", string(certPEM))
	key := writeFile(t, dir, "tls.key", string(keyPEM))
	cfg := writeFile(t, dir, "web.yml",
		"tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n"+basicAuthConfig(t, "prometheus", "s3cret"))
	s := start(t, "--web.config.file="+cfg)

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + s.addr + "/metrics"
	if code, _ := get(t, c, url, "", ""); code != http.StatusUnauthorized {
		t.Errorf("HTTPS without credentials: status %d, want 401", code)
	}
	code, body := get(t, c, url, "prometheus", "s3cret")
	if code != http.StatusOK || !strings.Contains(body, "ipvs_up ") {
		t.Errorf("HTTPS with credentials: status %d, has ipvs_up: %v", code, strings.Contains(body, "ipvs_up "))
	}

	// A plain-HTTP request to the TLS port gets no metrics.
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP to the TLS listener: status 200")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lvs-sidecar test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(parsed)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pool
}

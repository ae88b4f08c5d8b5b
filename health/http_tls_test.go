package health

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// probeCA is a certificate authority made for one test.
type probeCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func probeNewCA(t *testing.T, name string) *probeCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &probeCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) the CA signed: for a server at
// ips, or a client.
func (ca *probeCA) issue(t *testing.T, name string, client bool, ips ...net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
}

func (ca *probeCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// probeMTLSServer serves /ok over TLS on addr:0 with a certificate of
// serverCA, and requires a client certificate that clientCA signed.
func probeMTLSServer(t *testing.T, addr netip.Addr, serverCA, clientCA *probeCA) netip.AddrPort {
	t.Helper()
	certPEM, keyPEM := serverCA.issue(t, "real server", false, addr.AsSlice())
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, target := probeListenTCP(t, addr)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s\n", r.TLS.PeerCertificates[0].Subject.CommonName)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clientCA.pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		ErrorLog: log.New(io.Discard, "", 0), // the refused handshakes are the point
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return target
}

// TestHTTPSClientCertificate runs https checks against a loopback server
// that requires a client certificate of its CA, with a server certificate
// of another CA: only the check that trusts the server's CA and presents
// the right client certificate passes.
func TestHTTPSClientCertificate(t *testing.T) {
	serverCA, clientCA, otherCA := probeNewCA(t, "servers"), probeNewCA(t, "checks"), probeNewCA(t, "other")
	goodPEM, goodKey := clientCA.issue(t, "health check", true)
	good, err := tls.X509KeyPair(goodPEM, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	strangerPEM, strangerKey := otherCA.issue(t, "stranger", true)
	stranger, err := tls.X509KeyPair(strangerPEM, strangerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			target := probeMTLSServer(t, addr, serverCA, clientCA)
			for _, tc := range []struct {
				name   string
				opts   HTTPOptions
				class  Class
				reason string
			}{
				{"CA and client certificate", HTTPOptions{RootCAs: serverCA.pool(), Certificate: &good}, ClassOpen, "HTTP 200"},
				{"no client certificate", HTTPOptions{RootCAs: serverCA.pool()}, ClassError, "certificate required"},
				// The server names the CAs it accepts, and Go's client
				// sends no certificate that none of them signed.
				{"client certificate of another CA", HTTPOptions{RootCAs: serverCA.pool(), Certificate: &stranger}, ClassError, "certificate required"},
				{"system roots", HTTPOptions{Certificate: &good}, ClassError, "certificate signed by unknown authority"},
				{"the wrong CA", HTTPOptions{RootCAs: otherCA.pool(), Certificate: &good}, ClassError, "certificate signed by unknown authority"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.opts.TLS, tc.opts.Path = true, "/ok"
					probeWant(t, probeCheck(NewHTTP(target, tc.opts), 2*time.Second), tc.class, tc.reason)
				})
			}
		})
	}
}

// TestBuildHTTPSFiles: ca_file, cert_file and key_file of a configuration
// file reach the checker Build makes, which then passes against the
// server that requires them.
func TestBuildHTTPSFiles(t *testing.T) {
	serverCA, clientCA := probeNewCA(t, "servers"), probeNewCA(t, "checks")
	target := probeMTLSServer(t, probeLoopbacks[0], serverCA, clientCA)
	dir := t.TempDir()
	certPEM, keyPEM := clientCA.issue(t, "health check", true)
	for name, data := range map[string][]byte{"ca.pem": serverCA.certPEM, "check.pem": certPEM, "check-key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := fmt.Sprintf(`services:
  - name: shop
    address: 192.0.2.1:443
    real_servers: [{address: "%s", forward: nat}]
    checks:
      - {type: https, path: /ok, ca_file: ca.pem, cert_file: check.pem, key_file: check-key.pem}
`, target)
	cfg, err := config.Parse([]byte(text), filepath.Join(dir, "lvs.yml"))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := Build(cfg, nil, BuildDeps{})
	if err != nil {
		t.Fatal(err)
	}
	probeWant(t, probeCheck(targets[0].Checks[0].Checker, 2*time.Second), ClassOpen, "HTTP 200")
}

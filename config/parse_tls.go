package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// maxPEMFile bounds what a TLS file may hold: certificates and keys are a
// few KiB, and a mistyped path (a log, /dev/zero) must not be read whole.
const maxPEMFile = 1 << 20

// tlsFiles decodes an https check's ca_file, cert_file and key_file: each
// must be a readable regular file, the CA file must hold at least one PEM
// certificate, and the certificate and key must make a pair.
func (d *decoder) tlsFiles(m map[string]entry, path string, h *HTTPCheck) {
	if e, ok := m["ca_file"]; ok {
		if name, data, ok := d.pemFile(e.val, join(path, "ca_file")); ok {
			if !x509.NewCertPool().AppendCertsFromPEM(data) {
				d.errorf(d.resolveQuiet(e.val), join(path, "ca_file"), "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----) that parses", name)
			} else {
				h.CAFile, h.CA = name, data
			}
			if h.TLSSkipVerify {
				d.errorf(d.resolveQuiet(e.val), join(path, "ca_file"), "set ca_file or tls_skip_verify, not both: with tls_skip_verify no certificate is verified")
			}
		}
	}
	cert, hasCert := m["cert_file"]
	key, hasKey := m["key_file"]
	switch {
	case hasCert && !hasKey:
		d.errorf(cert.key, join(path, "cert_file"), "set key_file too: a client certificate needs its private key")
		return
	case hasKey && !hasCert:
		d.errorf(key.key, join(path, "key_file"), "set cert_file too: a private key needs its client certificate")
		return
	case !hasCert:
		return
	}
	certName, certPEM, okCert := d.pemFile(cert.val, join(path, "cert_file"))
	keyName, keyPEM, okKey := d.pemFile(key.val, join(path, "key_file"))
	if !okCert || !okKey {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		d.errorf(d.resolveQuiet(cert.val), join(path, "cert_file"), "%s and key_file %s do not make a client certificate: %v", certName, keyName, err)
		return
	}
	h.CertFile, h.KeyFile, h.Cert, h.Key = certName, keyName, certPEM, keyPEM
}

// pemFile reads the file n names, relative to the configuration file's
// directory unless absolute. It returns the path as read, which a
// marshalled configuration names, so that it reads the same file.
func (d *decoder) pemFile(n *yaml.Node, path string) (string, []byte, bool) {
	name, ok := d.str(n, path)
	if !ok {
		return "", nil, false
	}
	at := d.resolveQuiet(n)
	if name == "" {
		d.errorf(at, path, "must name a PEM file")
		return "", nil, false
	}
	full := name
	if !filepath.IsAbs(name) {
		full = filepath.Join(filepath.Dir(d.file), name)
	}
	data, err := readPEMFile(full)
	if err != nil {
		d.errorf(at, path, "%v", err)
		return full, nil, false
	}
	return full, data, true
}

// readPEMFile reads a regular file of at most maxPEMFile bytes.
func readPEMFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathError(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathError(err))
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a PEM file", name, maxPEMFile)
	}
	return data, nil
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

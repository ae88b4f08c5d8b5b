package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// LookTool returns the path of a Debian-packaged tool, or skips the test
// when it is absent; with CI set a missing tool fails the test instead
// (make deps installs pkg).
func LookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// Daemons (snmpd, snmptrapd) live in /usr/sbin, which a
		// user's PATH may lack.
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// netSNMPVersion is the npm package whose lib/mibs holds the SMIv2 base
// modules (SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF, SNMPv2-MIB, IF-MIB,
// IANAifType-MIB) that Debian main does not ship (they are in the
// non-free snmp-mibs-downloader).
const netSNMPVersion = "net-snmp@3.29.2"

// cacheDir returns a directory for downloads shared by test runs, outside
// the repository: $LVS_SIDECAR_TEST_CACHE, or the user's cache directory.
func cacheDir(t testing.TB, name string) string {
	t.Helper()
	base := os.Getenv("LVS_SIDECAR_TEST_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		base = filepath.Join(c, "lvs-sidecar-test")
	}
	return filepath.Join(base, name)
}

// fill makes dir by running build in a fresh directory beside it and
// renaming it into place, so that test binaries running at the same time
// never see a half-made one.
func fill(t testing.TB, dir string, build func(tmp string) error) string {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fetch %s: %v", filepath.Base(dir), err)
		}
		t.Skipf("cannot fetch %s: %v", filepath.Base(dir), err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

var mibMu sync.Mutex

// BaseMIBs returns a directory with the SMIv2 base modules as .txt files,
// taken from the npm package net-snmp (npm pack, no install, no scripts
// run) and cached.
func BaseMIBs(t testing.TB) string {
	t.Helper()
	mibMu.Lock()
	defer mibMu.Unlock()
	LookTool(t, "npm", "npm")
	return fill(t, cacheDir(t, strings.ReplaceAll(netSNMPVersion, "@", "-")+"-mibs"), func(tmp string) error {
		if err := run(tmp, "npm", "pack", "--silent", netSNMPVersion); err != nil {
			return err
		}
		tgz, _ := filepath.Glob(filepath.Join(tmp, "net-snmp-*.tgz"))
		if len(tgz) != 1 {
			return fmt.Errorf("npm pack left %v", tgz)
		}
		if err := run(tmp, "tar", "xzf", tgz[0], "package/lib/mibs"); err != nil {
			return err
		}
		mibs, _ := filepath.Glob(filepath.Join(tmp, "package", "lib", "mibs", "*.mib"))
		for _, m := range mibs {
			data, err := os.ReadFile(m)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(m), ".mib") + ".txt"
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return err
			}
		}
		for _, need := range []string{"SNMPv2-SMI", "SNMPv2-TC", "SNMPv2-CONF", "SNMPv2-MIB", "IF-MIB"} {
			if _, err := os.Stat(filepath.Join(tmp, need+".txt")); err != nil {
				return fmt.Errorf("%s has no %s: %w", netSNMPVersion, need, err)
			}
		}
		_ = os.RemoveAll(filepath.Join(tmp, "package"))
		for _, t := range tgz {
			_ = os.Remove(t)
		}
		return nil
	})
}

// KeepalivedMIBs returns a directory with Debian's KEEPALIVED-MIB.txt,
// taken from the keepalived package with apt-get download and dpkg -x
// (keepalived is neither installed nor run), and a stand-in
// INET-ADDRESS-MIB that it imports: Debian main does not ship RFC 4001's
// module, so inetAddressStub defines just the textual conventions
// KEEPALIVED-MIB uses, with RFC 4001's values.
func KeepalivedMIBs(t testing.TB) string {
	t.Helper()
	mibMu.Lock()
	defer mibMu.Unlock()
	LookTool(t, "apt-get", "apt")
	LookTool(t, "dpkg", "dpkg")
	return fill(t, cacheDir(t, "keepalived-mibs"), func(tmp string) error {
		if err := run(tmp, "apt-get", "download", "keepalived"); err != nil {
			// Stale package lists name a version the mirror no longer
			// has; CI (root, a machine of its own) may refresh them.
			if os.Getenv("CI") == "" {
				return err
			}
			if uerr := run(tmp, "apt-get", "update", "-qq"); uerr != nil {
				return fmt.Errorf("%w; apt-get update: %w", err, uerr)
			}
			if err := run(tmp, "apt-get", "download", "keepalived"); err != nil {
				return err
			}
		}
		debs, _ := filepath.Glob(filepath.Join(tmp, "keepalived_*.deb"))
		if len(debs) != 1 {
			return fmt.Errorf("apt-get download left %v", debs)
		}
		if err := run(tmp, "dpkg", "-x", debs[0], "x"); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(tmp, "x", "usr", "share", "snmp", "mibs", "KEEPALIVED-MIB.txt"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "KEEPALIVED-MIB.txt"), data, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "INET-ADDRESS-MIB.txt"), []byte(inetAddressStub), 0o644); err != nil {
			return err
		}
		_ = os.RemoveAll(filepath.Join(tmp, "x"))
		return os.Remove(debs[0])
	})
}

// inetAddressStub stands in for INET-ADDRESS-MIB (RFC 4001), which Debian
// main does not ship: only the textual conventions KEEPALIVED-MIB
// imports, with the RFC's syntax and enumeration values, so that
// net-snmp can load KEEPALIVED-MIB and print its enumerations by name.
const inetAddressStub = `INET-ADDRESS-MIB DEFINITIONS ::= BEGIN

-- Test stand-in for RFC 4001's module: the textual conventions
-- KEEPALIVED-MIB imports, nothing else.

IMPORTS
    Unsigned32 FROM SNMPv2-SMI
    TEXTUAL-CONVENTION FROM SNMPv2-TC;

InetAddressType ::= TEXTUAL-CONVENTION
    STATUS current
    DESCRIPTION "The kind of an InetAddress."
    SYNTAX INTEGER { unknown(0), ipv4(1), ipv6(2), ipv4z(3), ipv6z(4), dns(16) }

InetAddress ::= TEXTUAL-CONVENTION
    STATUS current
    DESCRIPTION "An address whose kind an InetAddressType says."
    SYNTAX OCTET STRING (SIZE (0..255))

InetAddressPrefixLength ::= TEXTUAL-CONVENTION
    DISPLAY-HINT "d"
    STATUS current
    DESCRIPTION "A prefix length."
    SYNTAX Unsigned32 (0..2040)

InetPortNumber ::= TEXTUAL-CONVENTION
    DISPLAY-HINT "d"
    STATUS current
    DESCRIPTION "A transport port number."
    SYNTAX Unsigned32 (0..65535)

InetScopeType ::= TEXTUAL-CONVENTION
    STATUS current
    DESCRIPTION "An address scope."
    SYNTAX INTEGER { interfaceLocal(1), linkLocal(2), subnetLocal(3), adminLocal(4),
                     siteLocal(5), organizationLocal(8), global(14) }

END
`

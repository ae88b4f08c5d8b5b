package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIO runs the binary with stdin and returns exit code, stdout and
// stderr separately.
func runIO(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, stdin, nil, args...)
}

const testdata = "../../config/testdata/"

// TestCheckConfig validates files offline: a valid file prints its summary
// and exits 0; an invalid one prints every problem as file:line: field:
// message and exits 1.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"valid", []string{"check-config", testdata + "valid/full.yml"}, 0,
			testdata + "valid/full.yml: OK (4 services, 11 real servers, 21 checks; discovery: 1 check per kernel destination)\n", ""},
		{"valid via --config.file", []string{"--config.file=" + testdata + "valid/minimal.yml", "check-config"}, 0,
			testdata + "valid/minimal.yml: OK (1 service, 2 real servers, 2 checks)\n", ""},
		{"valid with load weights", []string{"check-config", testdata + "valid/load.yml"}, 0,
			testdata + "valid/load.yml: OK (3 services, 6 real servers, 6 checks; load weights for 4 real servers)\n", ""},
		{"invalid", []string{"check-config", testdata + "invalid/weight-out-of-range.yml"}, 1, "",
			testdata + "invalid/weight-out-of-range.yml:6: services[0].real_servers[1].weight: must be between 0 and 65535, got -3\n"},
		{"several problems", []string{"check-config", testdata + "invalid/several-errors.yml"}, 1, "",
			testdata + "invalid/several-errors.yml:4: services[0].scheduler: must be one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, got \"fastest\"\n" +
				testdata + "invalid/several-errors.yml:6: services[0].real_servers[0].weight: must be between 0 and 65535, got 70000\n" +
				testdata + "invalid/several-errors.yml:7: services[0].real_servers[1].address: must be ADDR:PORT like 10.0.0.1:80 or [2001:db8::10]:80, got \"10.0.0.300:80\"\n" +
				testdata + "invalid/several-errors.yml:9: services[0].checks[0].expect_status: must be a status code (100-599) or a range like 200-399, got 700\n"},
		{"missing file", []string{"check-config", dir + "/nope.yml"}, 1, "",
			"lvs-sidecar: read config: open " + dir + "/nope.yml: no such file or directory\n"},
		{"no file named", []string{"check-config"}, 2, "",
			"lvs-sidecar: check-config: name the file to check (or set --config.file)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runIO(t, "", tc.args...)
			if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestImportCommand converts rules from stdin and from a file, to stdout
// and to --output; the result passes check-config; bad rules give the
// line-numbered error and write nothing.
func TestImportCommand(t *testing.T) {
	rules, err := os.ReadFile(testdata + "ipvsadm/save.rules")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(testdata + "ipvsadm/save.yml")
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runIO(t, string(rules), "import")
	if code != 0 {
		t.Fatalf("import from stdin: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "# lvs-sidecar configuration imported from stdin") || !strings.HasSuffix(stdout, string(golden)) {
		t.Errorf("import from stdin wrote:\n%s\nwant a comment header, then:\n%s", stdout, golden)
	}
	if want := "lvs-sidecar: imported 7 services, 13 real servers, 13 checks from stdin\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "lvs.yml")
	code, stdout, stderr = runIO(t, "", "import", "--output", out, testdata+"ipvsadm/script.rules")
	if code != 0 || stdout != "" {
		t.Fatalf("import --output: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	code, stdout, stderr = runIO(t, "", "check-config", out)
	if code != 0 || stdout != out+": OK (2 services, 3 real servers, 3 checks)\n" {
		t.Errorf("check-config of the imported file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	bad := filepath.Join(dir, "bad.yml")
	code, stdout, stderr = runIO(t, "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 70000\n", "import", "-o", bad)
	if code != 1 || stdout != "" || stderr != "stdin:2: -w 70000: must be a number from 0 to 65535\n" {
		t.Errorf("bad rules: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("bad rules still wrote %s (%v)", bad, err)
	}
}

// TestRunConfigFile: run refuses an invalid --config.file at start, naming
// file, line and field, and serves with a valid one.
func TestRunConfigFile(t *testing.T) {
	path := testdata + "invalid/rise-zero.yml"
	code, out := runToExit(t, "--web.listen-address=127.0.0.1:0", "--config.file="+path)
	if code != 1 {
		t.Errorf("invalid --config.file: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		`problem="` + path + `:5: services[0].checks[0].rise: must be between 1 and 100, got 0"`,
		"--config.file " + path + " is invalid (1 problem;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Listening on") {
		t.Errorf("served with an invalid config:\n%s", out)
	}

	code, out = runToExit(t, "--web.listen-address=127.0.0.1:0", "--config.file="+t.TempDir()+"/missing.yml")
	if code != 1 || !strings.Contains(out, "missing.yml: no such file or directory") {
		t.Errorf("missing --config.file: exit %d:\n%s", code, out)
	}

	s := start(t, "--config.file="+testdata+"valid/full.yml")
	if logs := s.logs(); !strings.Contains(logs, `msg="loaded configuration" file=`+testdata+`valid/full.yml summary="4 services, 11 real servers, 21 checks;`) {
		t.Errorf("no log of the loaded configuration:\n%s", logs)
	}
}

// TestExplicitRunCommand: naming the default command works like leaving
// it out.
func TestExplicitRunCommand(t *testing.T) {
	code, out := runToExit(t, "run", "--web.listen-address=127.0.0.1:0", "--ipvs.timeout=soon")
	if code != 2 || !strings.Contains(out, "--ipvs.timeout") {
		t.Errorf("run --ipvs.timeout=soon: exit %d:\n%s", code, out)
	}
	s := start(t, "run")
	if s.addr == "" {
		t.Error("run did not listen")
	}
}

package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// invalidCases are the files in testdata/invalid with the exact error each
// must give: file, line, field path and what is allowed.
var invalidCases = []struct {
	file string
	want string
}{
	{"address-and-fwmark.yml", `address-and-fwmark.yml:4: services[0].fwmark: set either address (with protocol) or fwmark (with family), not both`},
	{"backwards-status-range.yml", `backwards-status-range.yml:5: services[0].checks[0].expect_status: range "399-200" is backwards: write the lower code first`},
	{"bad-controller-mode.yml", `bad-controller-mode.yml:2: controller.mode: must be one of managed, observe, dry_run, got "dry-run" (did you mean "dry_run"?)`},
	{"bad-cron-spec.yml", `bad-cron-spec.yml:5: services[0].checks[0].schedule: invalid cron spec "*/5 * * *": expected 5 to 6 fields, found 4: [*/5 * * *]; use a cron spec with seconds like "*/5 * * * * *", or "@every 2s"`},
	{"bad-duration.yml", `bad-duration.yml:5: services[0].checks[0].timeout: must be a duration like 2s, 500ms or 1m30s, got "1 second"`},
	{"bad-expect-status.yml", `bad-expect-status.yml:5: services[0].checks[0].expect_status[1]: must be a status code (100-599) or a range like 200-399, got "2xx"`},
	{"bad-forward-method.yml", `bad-forward-method.yml:5: services[0].real_servers[0].forward: must be one of nat, dr, tun (or masq, route, tunnel), got "direct"`},
	{"bad-hex.yml", `bad-hex.yml:6: services[0].checks[0].payload_hex: must be hexadecimal bytes like 0a1b2c (spaces allowed), got "0x0g"`},
	{"bad-netmask.yml", `bad-netmask.yml:5: services[0].persistence_netmask: must be a prefix length (1-32) or a netmask like 255.255.255.0, got "255.0.255.0"`},
	{"bad-on-failure.yml", `bad-on-failure.yml:2: defaults.on_failure: must be one of drain, remove, got "disable"`},
	{"bad-protocol.yml", `bad-protocol.yml:4: services[0].protocol: must be one of tcp, udp, sctp, got "icmp"`},
	{"bad-regexp.yml", "bad-regexp.yml:6: services[0].checks[0].expect_body: invalid regular expression: error parsing regexp: missing closing ): `(ok`"},
	{"bad-scheduler.yml", `bad-scheduler.yml:4: services[0].scheduler: must be one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, got "wrrr" (did you mean "wrr"?)`},
	{"controller-period-too-short.yml", `controller-period-too-short.yml:5: controller.period: must be at least 100ms, got 10ms`},
	{"controller-unknown-key.yml", `controller-unknown-key.yml:6: controller.interval: unknown key; allowed here: mode, period`},
	{"cron-gap-shorter-than-timeout.yml", `cron-gap-shorter-than-timeout.yml:5: services[0].checks[0].timeout: 1s must be shorter than the schedule's interval 1s ("0,1 * * * * *")`},
	{"cron-never-fires.yml", `cron-never-fires.yml:5: services[0].checks[0].schedule: cron spec "0 0 0 30 2 *" never fires twice`},
	{"dr-port-differs.yml", `dr-port-differs.yml:5: services[0].real_servers[0].address: port 8080 differs from the service's port 80, but dr forwarding does not change ports: use port 80, leave the port out, or set forward: nat`},
	{"duplicate-fwmark.yml", `duplicate-fwmark.yml:5: services[1].fwmark: fwmark/42/ipv4 is already declared by services[0] "mail" (line 3)`},
	{"duplicate-real-server.yml", `duplicate-real-server.yml:7: services[0].real_servers[2].address: 10.0.0.1:80 is already real_servers[0] (line 5)`},
	{"duplicate-service-key.yml", `duplicate-service-key.yml:6: services[1].address: tcp/192.0.2.1:80 is already declared by services[0] "web" (line 3)`},
	{"duplicate-service-name.yml", `duplicate-service-name.yml:4: services[1].name: "web" is already the name of services[0] (line 2)`},
	{"duration-without-unit.yml", `duration-without-unit.yml:2: defaults.slow_start: must be a duration with a unit, like 30s, got 30`},
	{"empty-check-list.yml", `empty-check-list.yml:4: services[0].checks: needs at least one check; leave the key out to use defaults.check`},
	{"empty.yml", `empty.yml: the file is empty: declare services, or set discovery.enabled: true`},
	{"family-on-address-service.yml", `family-on-address-service.yml:4: services[0].family: only for fwmark services: an address service's family is its address's`},
	{"fast-interval-not-longer-than-timeout.yml", `fast-interval-not-longer-than-timeout.yml:2: defaults.check.fast_interval: 500ms must be longer than the timeout 1s`},
	{"fwmark-check-needs-port.yml", `fwmark-check-needs-port.yml:5: services[0].real_servers[0].address: 10.0.2.1 has no port, so its tcp check needs one: add checks with a port to the service, or use an icmp check`},
	{"http-key-on-tcp-check.yml", `http-key-on-tcp-check.yml:5: services[0].checks[0].path: only for http and https checks, not tcp`},
	{"interval-too-short.yml", `interval-too-short.yml:5: services[0].checks[0].schedule: interval in "@every 1ms" must be at least 10ms`},
	{"key-set-twice.yml", `key-set-twice.yml:5: services[0].scheduler: set twice (first on line 4)`},
	{"lower-threshold-above-upper.yml", `lower-threshold-above-upper.yml:5: services[0].real_servers[0].lower_threshold: 200 must not be above upper_threshold (100): the kernel refuses it`},
	{"max-loss-100.yml", `max-loss-100.yml:5: services[0].checks[0].max_loss: must be below 100%: a check that passes with every echo lost checks nothing`},
	{"merge-key.yml", `merge-key.yml:3: services[1]: merge keys (<<) are not supported: repeat the keys, or set shared values in defaults`},
	{"nat-without-port.yml", `nat-without-port.yml:5: services[0].real_servers[0].address: nat real servers need a port (nat rewrites the destination port): write 10.0.0.1:80`},
	{"neither-address-nor-fwmark.yml", `neither-address-nor-fwmark.yml:2: services[0]: needs address: VIP:PORT (with protocol) or fwmark: N (with family)`},
	{"netmask-without-persistence.yml", `netmask-without-persistence.yml:4: services[0].persistence_netmask: only for persistent services: set persistence too`},
	{"no-services.yml", `no-services.yml:3: services: declare at least one service, or set discovery.enabled: true to check what the kernel table holds`},
	{"notify-address-without-port.yml", `notify-address-without-port.yml:5: notifications.targets[0].address: must be HOST:PORT like 192.0.2.9:162 or [2001:db8::9]:162, got "192.0.2.9"`},
	{"notify-bad-kind.yml", `notify-bad-kind.yml:7: notifications.targets[0].send[1]: must be one of state, action, panic, reload, lifecycle, got "traps"`},
	{"notify-bad-mode.yml", `notify-bad-mode.yml:7: notifications.targets[0].mode: must be one of lvs-sidecar, keepalived, got "keepalive" (did you mean "keepalived"?)`},
	{"notify-duplicate-name.yml", `notify-duplicate-name.yml:6: notifications.targets[1].name: "nms" is already the name of notifications.targets[0] (line 5): give each target its own name`},
	{"notify-engine-id-on-inform.yml", `notify-engine-id-on-inform.yml:13: notifications.targets[0].engine_id: only for traps: an inform is sent to the receiver's engine ID, which is discovered`},
	{"notify-md5.yml", `notify-md5.yml:8: notifications.targets[0].auth_protocol: must be one of SHA224, SHA256, SHA384, SHA512, got "MD5": MD5 is broken (practical collisions) and not accepted; use SHA256 (SHA-2, RFC 7860), and SHA-256 in the user's createUser line in the receiver's snmptrapd.conf`},
	{"notify-no-community.yml", `notify-no-community.yml:5: notifications.targets[0]: needs community: version v2c authenticates with a community (authCommunity in the receiver's snmptrapd.conf)`},
	{"notify-queue-zero.yml", `notify-queue-zero.yml:7: notifications.targets[0].queue_size: must be between 1 and 1000000, got 0`},
	{"notify-short-passphrase.yml", `notify-short-passphrase.yml:9: notifications.targets[0].auth_passphrase: must be at least 8 characters (RFC 3414; net-snmp refuses shorter ones), got 5`},
	{"notify-v3-key-on-v2c.yml", `notify-v3-key-on-v2c.yml:7: notifications.targets[0].user: only for version: v3; version v2c authenticates with community`},
	{"panic-threshold-150.yml", `panic-threshold-150.yml:4: services[0].panic_threshold: must be between 0% and 100%, got 150%`},
	{"panic-threshold-without-percent.yml", `panic-threshold-without-percent.yml:4: services[0].panic_threshold: must be a percentage like 50%, got 0.5`},
	{"payload-and-payload-hex.yml", `payload-and-payload-hex.yml:6: services[0].checks[0].payload_hex: set payload or payload_hex, not both`},
	{"persistence-fraction.yml", `persistence-fraction.yml:4: services[0].persistence: must be whole seconds (IPVS counts persistence in seconds), got 1.5s`},
	{"pings-exceed-timeout.yml", `pings-exceed-timeout.yml:5: services[0].checks[0].interval: 5 pings 300ms apart take 1.2s, which does not fit in the timeout 1s`},
	{"port-on-icmp-check.yml", `port-on-icmp-check.yml:5: services[0].checks[0].port: not used by icmp checks`},
	{"port-zero-not-persistent.yml", `port-zero-not-persistent.yml:3: services[0].address: port 0 (all ports) needs persistence, as in ipvsadm`},
	{"protocol-on-fwmark.yml", `protocol-on-fwmark.yml:4: services[0].protocol: not used by fwmark services: a firewall mark matches packets of any protocol`},
	{"real-server-family-mismatch.yml", `real-server-family-mismatch.yml:5: services[0].real_servers[0].address: 2001:db8::5 is IPv6 but the service is IPv4; only tun real servers may differ`},
	{"rise-zero.yml", `rise-zero.yml:5: services[0].checks[0].rise: must be between 1 and 100, got 0`},
	{"schedule-shorter-than-default-timeout.yml", `schedule-shorter-than-default-timeout.yml:7: services[0].checks[0].schedule: interval 500ms ("@every 500ms") must be longer than the timeout 1s (from defaults.check)`},
	{"services-not-a-list.yml", `services-not-a-list.yml:2: services: must be a list, got a mapping`},
	// Every problem is reported, in line order, not just the first.
	{"several-errors.yml", "" +
		`several-errors.yml:4: services[0].scheduler: must be one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, got "fastest"` + "\n" +
		`several-errors.yml:6: services[0].real_servers[0].weight: must be between 0 and 65535, got 70000` + "\n" +
		`several-errors.yml:7: services[0].real_servers[1].address: must be ADDR:PORT like 10.0.0.1:80 or [2001:db8::10]:80, got "10.0.0.300:80"` + "\n" +
		`several-errors.yml:9: services[0].checks[0].expect_status: must be a status code (100-599) or a range like 200-399, got 700`},
	{"timeout-not-shorter-than-interval.yml", `timeout-not-shorter-than-interval.yml:5: services[0].checks[0].timeout: 2s must be shorter than the schedule's interval 2s ("@every 2s")`},
	{"tls-skip-verify-on-http.yml", `tls-skip-verify-on-http.yml:5: services[0].checks[0].tls_skip_verify: only for https checks, not http`},
	{"two-documents.yml", `two-documents.yml:4: a second YAML document (after ---): put everything in one`},
	{"unknown-check-type.yml", `unknown-check-type.yml:5: services[0].checks[0].type: must be one of tcp, syn, udp, icmp, http, https, got "smtp"`},
	{"unknown-key-allowed-list.yml", `unknown-key-allowed-list.yml:4: services[0].healthcheck: unknown key; allowed here: name, address, protocol, fwmark, family, scheduler, persistence, persistence_netmask, panic_threshold, panic_hysteresis, on_failure, slow_start, combine, load, real_servers, checks`},
	{"unknown-key-did-you-mean.yml", `unknown-key-did-you-mean.yml:3: services[0].adress: unknown key, did you mean "address"?`},
	{"source-address-not-ip.yml", `source-address-not-ip.yml:5: services[0].checks[0].source_address: must be an IP address of this director like 192.0.2.10 or 2001:db8::10, got "director1"`},
	{"source-address-family.yml", `source-address-family.yml:5: services[0].checks[0].source_address: 2001:db8::fe is IPv6 but real server 10.0.0.1:80 (services[0].real_servers[0]) is IPv4: a check's source address must be of its real server's family`},
	{"source-address-default-family.yml", `source-address-default-family.yml:2: services[0].checks[0].source_address: 192.0.2.250 (from defaults.check) is IPv4 but real server [2001:db8:1::1]:443 (services[0].real_servers[0]) is IPv6: a check's source address must be of its real server's family`},
	{"source-address-tun-family.yml", `source-address-tun-family.yml:5: services[0].checks[0].source_address: 2001:db8::fe is IPv6 but real server 10.0.0.9:443 (services[0].real_servers[1]) is IPv4: a check's source address must be of its real server's family; give this IPv4 tun real server checks of its own`},
	// TestInvalid parses each file under its base name, so the TLS files
	// these name are relative to the package's directory.
	{"ca-file-missing.yml", `ca-file-missing.yml:5: services[0].checks[0].ca_file: cannot read testdata/valid/tls/no-such-ca.pem: no such file or directory`},
	{"ca-file-not-pem.yml", `ca-file-not-pem.yml:5: services[0].checks[0].ca_file: testdata/valid/full.yml holds no PEM certificate (-----BEGIN CERTIFICATE-----) that parses`},
	{"ca-file-and-skip-verify.yml", `ca-file-and-skip-verify.yml:5: services[0].checks[0].ca_file: set ca_file or tls_skip_verify, not both: with tls_skip_verify no certificate is verified`},
	{"ca-file-on-http.yml", `ca-file-on-http.yml:5: services[0].checks[0].ca_file: only for https checks, not http`},
	{"cert-file-without-key.yml", `cert-file-without-key.yml:6: services[0].checks[0].cert_file: set key_file too: a client certificate needs its private key`},
	{"cert-and-key-mismatch.yml", `cert-and-key-mismatch.yml:6: services[0].checks[0].cert_file: testdata/valid/tls/check.pem and key_file testdata/valid/tls/other-key.pem do not make a client certificate: tls: private key does not match public key`},
	{"check-tcp-on-udp.yml", `check-tcp-on-udp.yml:6: services[0].checks[0].type: a tcp check cannot check a udp service: tcp needs a TCP listener, which a UDP server does not have, so the check would fail against a healthy server; use udp (with payload and expect for a real answer) or icmp`},
	{"check-http-on-sctp.yml", `check-http-on-sctp.yml:7: services[0].checks[1].type: an http check cannot check an sctp service: lvs-sidecar has no SCTP check yet, and the other types would fail against a healthy server; use icmp`},
	{"check-udp-on-tcp.yml", `check-udp-on-tcp.yml:7: services[0].real_servers[0].checks[0].type: a udp check cannot check a tcp service: a TCP server does not answer UDP, so the check would fail against a healthy server; use tcp, syn, http, https or icmp`},
	{"check-default-type-on-udp.yml", `check-default-type-on-udp.yml:8: services[0].checks[0].type: a syn check (the type of defaults.check) cannot check a udp service: syn needs a TCP listener, which a UDP server does not have, so the check would fail against a healthy server; use udp (with payload and expect for a real answer) or icmp`},
	{"tunnel-on-nat.yml", `tunnel-on-nat.yml:7: services[0].real_servers[0].tunnel: only for tun real servers (forward: tun); nat forwarding does not encapsulate`},
	{"tunnel-gue-without-port.yml", `tunnel-gue-without-port.yml:7: services[0].real_servers[0].tunnel.port: a gue tunnel needs the UDP port the real server decapsulates on (the kernel refuses port 0)`},
	{"tunnel-remcsum-on-gre.yml", `tunnel-remcsum-on-gre.yml:9: services[0].real_servers[0].tunnel.checksum: remcsum (remote checksum offload) is only for gue tunnels; gre takes none or csum`},
	{"tunnel-port-on-ipip.yml", `tunnel-port-on-ipip.yml:7: services[0].real_servers[0].tunnel.port: only for gue tunnels (an ipip tunnel has no port)`},
	{"tunnel-csum-on-ipip.yml", `tunnel-csum-on-ipip.yml:5: services[0].real_servers[0].tunnel.checksum: ipip tunnels have no checksum option; use type gue or gre, or leave checksum out`},
	{"tunnel-unknown-type.yml", `tunnel-unknown-type.yml:5: services[0].real_servers[0].tunnel.type: must be one of ipip, gue, gre, got "vxlan"`},
	{"netmask-zero.yml", `netmask-zero.yml:5: services[0].persistence_netmask: must not be 0 (0.0.0.0): a /0 mask would make every client one persistence entry, sending all of them to the same real server, and ipvsadm stores a zero netmask as the full mask; use 32 (255.255.255.255) for per-client persistence or a shorter prefix like 24`},
	{"netmask-zero-dotted.yml", `netmask-zero-dotted.yml:5: services[0].persistence_netmask: must not be 0 (0.0.0.0): a /0 mask would make every client one persistence entry, sending all of them to the same real server, and ipvsadm stores a zero netmask as the full mask; use 32 (255.255.255.255) for per-client persistence or a shorter prefix like 24`},
	{"threshold-above-int-max.yml", `threshold-above-int-max.yml:5: services[0].real_servers[0].upper_threshold: must be between 0 and 2147483647, got 3000000000`},
	{"weight-out-of-range.yml", `weight-out-of-range.yml:6: services[0].real_servers[1].weight: must be between 0 and 65535, got -3`},
	{"yaml-tab-indent.yml", `yaml-tab-indent.yml:5: invalid YAML: found character that cannot start any token (indent with spaces: YAML does not allow tabs there)`},
	{"yaml-unclosed-quote.yml", `yaml-unclosed-quote.yml:2: invalid YAML: found unexpected end of stream`},
	{"yaml-unclosed-flow.yml", `yaml-unclosed-flow.yml:4: invalid YAML: did not find expected ',' or ']'`},
	{"yaml-syntax-error.yml", `yaml-syntax-error.yml:4: invalid YAML: did not find expected '-' indicator`},
	// Load weights (load blocks at every level).
	{"load-disabled-with-keys.yml", `load-disabled-with-keys.yml:4: services[0].load.enabled: with enabled: false the other keys of load do nothing: remove them`},
	{"load-community-on-v3.yml", `load-community-on-v3.yml:8: services[0].load.community: only for version: v2c; version v3 authenticates with user and passphrases`},
	{"load-bad-oid.yml", `load-bad-oid.yml:9: services[0].real_servers[0].load.oid: must be a numeric OID like 1.3.6.1.4.1.2021.10.1.5.1 (names from MIBs are not resolved), got "1.3.6.x"`},
	{"load-floor-zero.yml", `load-floor-zero.yml:11: services[0].real_servers[0].load.floor: must be above 0%: load alone never drains a real server (maintenance or a failed check does)`},
	{"load-full-not-above-start.yml", `load-full-not-above-start.yml:10: services[0].real_servers[0].load.full: 4 must be above start (4)`},
	{"load-hysteresis-too-wide.yml", `load-hysteresis-too-wide.yml:11: services[0].real_servers[0].load.hysteresis: 3 must be below full - start (3), or the weight could not follow the load`},
	{"load-needs-start-full.yml", `load-needs-start-full.yml:8: services[0].real_servers[0].load: needs full (the load at which it reaches floor); for ucd_load that is the 1-minute load average, like start: 4, full: 12 on an 8-core server`},
	{"load-oid-on-hr-processor.yml", `load-oid-on-hr-processor.yml:10: services[0].real_servers[0].load.oid: not used by source hr_processor, which walks hrProcessorLoad (1.3.6.1.2.1.25.3.3.1.2); use source: oid for another object`},
	{"load-oid-source-without-oid.yml", `load-oid-source-without-oid.yml:8: services[0].real_servers[0].load.oid: source oid needs the OID to poll, like oid: 1.3.6.1.4.1.2021.11.9.0`},
	{"load-scale-not-oid.yml", `load-scale-not-oid.yml:2: defaults.load.scale: only for source oid: ucd_load has a fixed unit`},
	{"load-snmp-v1.yml", `load-snmp-v1.yml:9: services[0].real_servers[0].load.version: must be v2c or v3, got 1: SNMPv1 is not supported; use v2c, which agents and receivers that speak v1 speak too, or v3`},
	{"load-timeout-not-shorter.yml", `load-timeout-not-shorter.yml:10: services[0].real_servers[0].load.timeout: 1s must be shorter than the interval 1s`},
	{"load-unknown-key.yml", `load-unknown-key.yml:8: services[0].real_servers[0].load.comunity: unknown key, did you mean "community"?`},
	{"load-v2c-without-community.yml", `load-v2c-without-community.yml:8: services[0].real_servers[0].load: needs community: version v2c authenticates with a community (rocommunity in the real server's snmpd.conf)`},
	{"load-v3-short-passphrase.yml", `load-v3-short-passphrase.yml:11: services[0].real_servers[0].load.auth_passphrase: must be at least 8 characters (RFC 3414; net-snmp refuses shorter ones), got 5`},
	{"load-v3-without-priv.yml", `load-v3-without-priv.yml:8: services[0].real_servers[0].load: needs priv_protocol, priv_passphrase: version v3 is always authPriv (authenticated and encrypted), which takes user, auth_protocol, auth_passphrase, priv_protocol and priv_passphrase`},
}

// TestInvalid parses every file of testdata/invalid and compares the whole
// error text.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range invalidCases {
		listed[tc.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no expected error in invalidCases", f)
		}
	}
	if len(invalidCases) < 15 {
		t.Errorf("only %d invalid cases", len(invalidCases))
	}
	for _, tc := range invalidCases {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/invalid", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, tc.file)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if c != nil {
				t.Errorf("returned a config with the error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is %T, not a non-empty Errors", err)
			}
			for _, e := range list {
				if e.File != tc.file {
					t.Errorf("problem names file %q, want %q", e.File, tc.file)
				}
				if e.Line == 0 && tc.file != "empty.yml" {
					t.Errorf("problem has no line: %v", e)
				}
			}
		})
	}
}

// TestLoadNamesPath checks Load reports the path as given, and a missing
// file as an error wrapping the os error.
func TestLoadNamesPath(t *testing.T) {
	_, err := Load("testdata/invalid/rise-zero.yml")
	want := "testdata/invalid/rise-zero.yml:5: services[0].checks[0].rise: must be between 1 and 100, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
	_, err = Load("testdata/no-such-file.yml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
}

// TestTooManyProblems checks a file with hundreds of problems reports the
// first ones in line order and says it stopped.
func TestTooManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  - {name: s%d, address: 192.0.2.1:%d, scheduler: nope}\n", i, i+1)
	}
	_, err := Parse([]byte(b.String()), "many.yml")
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error %T: %v", err, err)
	}
	if len(list) != maxErrors+1 {
		t.Fatalf("%d problems, want %d and a note", len(list), maxErrors)
	}
	for i, e := range list[:maxErrors] {
		if e.Line != i+2 {
			t.Errorf("problem %d on line %d, want %d: %v", i, e.Line, i+2, e)
		}
	}
	if last := list[maxErrors].Error(); last != "many.yml:102: too many problems, stopping here (100 reported)" {
		t.Errorf("last problem: %s", last)
	}
}

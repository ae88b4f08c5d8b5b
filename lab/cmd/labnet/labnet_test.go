package main

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestUDPAnswersWithName(t *testing.T) {
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(network, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", network)
			if err != nil {
				t.Skipf("no %s here: %v", network, err)
			}
			done := make(chan error, 1)
			go func() { done <- answerUDP(pc, "rs7") }()

			var out bytes.Buffer
			if err := askUDP(&out, pc.LocalAddr().String(), 2*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != "rs7\n" {
				t.Errorf("answer = %q, want %q", got, "rs7\n")
			}
			pc.Close()
			if err := <-done; err == nil {
				t.Error("answerUDP returned nil after its socket closed")
			}
		})
	}
}

func TestUDPClientTimesOut(t *testing.T) {
	// A socket that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	start := time.Now()
	err = askUDP(&bytes.Buffer{}, pc.LocalAddr().String(), 200*time.Millisecond)
	if err == nil {
		t.Fatal("askUDP succeeded without an answer")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("askUDP took %v with a 200ms timeout", d)
	}
}

func TestSCTPAnswersWithName(t *testing.T) {
	fd, err := listenSCTP("[::1]:0")
	if errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.ESOCKTNOSUPPORT) {
		t.Skipf("this kernel has no SCTP (the lab VM has): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet6).Port
	go func() { _ = answerSCTP(fd, "rs9") }()
	t.Cleanup(func() { syscall.Close(fd) })

	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			var out bytes.Buffer
			addr := net.JoinHostPort(host, strconv.Itoa(port))
			if err := askSCTP(&out, addr, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != "rs9\n" {
				t.Errorf("answer = %q, want %q", got, "rs9\n")
			}
		})
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in      string
		want    netip.AddrPort
		wantErr string
	}{
		{in: ":8000", want: netip.MustParseAddrPort("[::]:8000")},
		{in: "127.0.0.1:80", want: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80")},
		{in: "[2001:db8::1]:9", want: netip.MustParseAddrPort("[2001:db8::1]:9")},
		{in: ":http", wantErr: "bad port"},
		{in: "localhost:80", wantErr: "bad address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseListen(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseListen(%q) error = %v, want one with %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseListen(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	tests := [][]string{
		nil,
		{"udp"},
		{"udp", "a", "b"},
		{"tcp", "127.0.0.1:1"},
		{"udp", "-nosuchflag", "127.0.0.1:1"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, stderr.String())
			}
		})
	}
}

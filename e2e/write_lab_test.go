//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

const (
	// writeDirector and writeClientNS are the lab's namespaces the write
	// path test changes and sends traffic from.
	writeDirector = "/run/netns/director"
	writeClientNS = "/run/netns/client"
	// writeRequests is how many requests (connections) one traffic check
	// sends: ten per real server under round robin.
	writeRequests = 30
	// writeCallTimeout bounds one Writer or Reader call.
	writeCallTimeout = 10 * time.Second
)

// writeLab is the write path test's view of the lab: a Writer and a Reader
// on the director's table, a client in the client namespace, and the
// services the test created, which its cleanup deletes.
type writeLab struct {
	top    *testing.T // the test whose cleanups delete what it created
	w      *ipvs.Writer
	r      *ipvs.Reader
	client *writeClient
}

// newWriteLab loads ip_vs (the module test may have left it unloaded) and
// opens the Writer, Reader and client; t's cleanup closes them.
func newWriteLab(t *testing.T) *writeLab {
	t.Helper()
	inNS(t, "root", "modprobe", "ip_vs")
	w, err := ipvs.NewWriter(ipvs.WriterOptions{NetNS: writeDirector})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close the writer: %v", err)
		}
	})
	r, err := ipvs.NewReader(ipvs.ReaderOptions{NetNS: writeDirector})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close the reader: %v", err)
		}
	})
	return &writeLab{top: t, w: w, r: r, client: newWriteClient(t, writeClientNS)}
}

// ctx bounds one call. Not t.Context(): cleanups call too, after it ends.
func (l *writeLab) ctx(t *testing.T) context.Context {
	return writeCtx(t, writeCallTimeout)
}

func writeCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// create makes service s with dests through the Writer, and registers its
// deletion (through the Writer, or ipvsadm should that fail) as a cleanup
// of the whole test: it runs even when the test fails.
func (l *writeLab) create(t *testing.T, s *ipvs.Service, dests []ipvs.Destination) {
	t.Helper()
	k := s.ServiceKey
	l.top.Cleanup(func() { l.cleanupService(l.top, k) })
	if err := l.w.CreateService(l.ctx(t), s); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	for i := range dests {
		if err := l.w.CreateDestination(l.ctx(t), s.ServiceKey, &dests[i]); err != nil {
			t.Fatalf("CreateDestination: %v", err)
		}
	}
}

func (l *writeLab) cleanupService(t *testing.T, k ipvs.ServiceKey) {
	err := l.w.DeleteService(l.ctx(t), k)
	if err == nil || errors.Is(err, ipvs.ErrNotFound) {
		return
	}
	t.Errorf("cleanup: %v", err)
	if _, err := tryInNS(t, "director", append([]string{"ipvsadm", "-D"}, writeIpvsadmService(k)...)...); err != nil {
		t.Errorf("cleanup with ipvsadm: %v", err)
	}
}

// table reads the director's table through the Reader, keyed by service
// name, without what changes on its own (counters, connection counts) and
// with destinations in a fixed order, so that two reads compare.
func (l *writeLab) table(t *testing.T) map[string]ipvs.Service {
	t.Helper()
	snap, err := l.r.Snapshot(l.ctx(t))
	if err != nil {
		t.Fatalf("Reader.Snapshot: %v", err)
	}
	m := make(map[string]ipvs.Service, len(snap.Services))
	for _, s := range snap.Services {
		s.Stats = ipvs.Stats{}
		s.Destinations = slices.Clone(s.Destinations)
		for i := range s.Destinations {
			d := &s.Destinations[i]
			d.Stats = ipvs.Stats{}
			d.ActiveConns, d.InactiveConns, d.PersistConns = 0, 0, 0
		}
		slices.SortFunc(s.Destinations, func(a, b ipvs.Destination) int { return strings.Compare(a.Server(), b.Server()) })
		m[s.String()] = s
	}
	return m
}

// expectDests checks that service k has exactly the real servers want, with
// their weight, forwarding method and thresholds, as the Reader reads them
// and as ipvsadm lists them (weight and forwarding method).
func (l *writeLab) expectDests(t *testing.T, k ipvs.ServiceKey, scheduler string, want []ipvs.Destination) {
	t.Helper()
	s, ok := l.table(t)[k.String()]
	if !ok {
		t.Fatalf("the Reader does not list service %s", k)
	}
	if s.Scheduler != scheduler {
		t.Errorf("the Reader says %s schedules with %q, want %q", k, s.Scheduler, scheduler)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b ipvs.Destination) int { return strings.Compare(a.Server(), b.Server()) })
	if !reflect.DeepEqual(s.Destinations, want) {
		t.Errorf("the Reader lists the real servers of %s as\n  %s\nwant\n  %s", k, writeDests(s.Destinations), writeDests(want))
	}

	listed, ok := writeIpvsadmList(t)[writeIpvsadmName(k)]
	if !ok {
		t.Fatalf("ipvsadm -Ln does not list %q", writeIpvsadmName(k))
	}
	if listed.scheduler != scheduler {
		t.Errorf("ipvsadm -Ln says %s schedules with %q, want %q", k, listed.scheduler, scheduler)
	}
	var wantListed []string
	for _, d := range want {
		wantListed = append(wantListed, writeIpvsadmDest(d))
	}
	slices.Sort(wantListed)
	if !slices.Equal(listed.dests, wantListed) {
		t.Errorf("ipvsadm -Ln lists the real servers of %s as\n  %q\nwant\n  %q", k, listed.dests, wantListed)
	}
}

// writeDests prints what expectDests compares, one real server after the
// other: "203.0.113.13:80 masq weight 2 thresholds 500/50 (ipv4)".
func writeDests(ds []ipvs.Destination) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s weight %d thresholds %d/%d (%s)", d.Server(), d.Forward, d.Weight, d.UpperThreshold, d.LowerThreshold, ipvs.FamilyName(d.Family))
	}
	return b.String()
}

// expectNoService checks that neither the Reader nor ipvsadm lists k.
func (l *writeLab) expectNoService(t *testing.T, k ipvs.ServiceKey) {
	t.Helper()
	if s, ok := l.table(t)[k.String()]; ok {
		t.Errorf("the Reader still lists %s: %+v", k, s)
	}
	if _, ok := writeIpvsadmList(t)[writeIpvsadmName(k)]; ok {
		t.Errorf("ipvsadm -Ln still lists %q", writeIpvsadmName(k))
	}
}

// expectAnswers sends writeRequests requests to url from the client: all
// must succeed, each real server named in want must answer at least one,
// and no other may answer any.
func (l *writeLab) expectAnswers(t *testing.T, url string, want ...string) {
	t.Helper()
	got, failed := l.client.answers(writeCtx(t, writeRequests*writeRequestTimeout), url, writeRequests)
	t.Logf("%d requests to %s answered by %v", writeRequests, url, got)
	if len(failed) > 0 {
		t.Errorf("%d of %d requests to %s failed, the first: %v", len(failed), writeRequests, url, failed[0])
	}
	for _, name := range want {
		if got[name] == 0 {
			t.Errorf("%s answered none of the requests to %s (answers: %v)", name, url, got)
		}
	}
	for name, n := range got {
		if !slices.Contains(want, name) {
			t.Errorf("%s answered %d requests to %s, want none (answers: %v)", name, n, url, got)
		}
	}
}

// expectRefused checks that a request to url gets no answer.
func (l *writeLab) expectRefused(t *testing.T, url string) {
	t.Helper()
	if name, err := l.client.get(l.ctx(t), url); err == nil {
		t.Errorf("%s answered a request to %s, want no answer", name, url)
	}
}

// writeIpvsadmService returns ipvsadm's option naming service k.
func writeIpvsadmService(k ipvs.ServiceKey) []string {
	if k.FWMark != 0 {
		opts := []string{"-f", strconv.FormatUint(uint64(k.FWMark), 10)}
		if k.Family == ipvs.FamilyIPv6 {
			opts = append(opts, "-6")
		}
		return opts
	}
	opt := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u", ipvs.SCTP: "--sctp-service"}[k.Protocol]
	return []string{opt, fmt.Sprintf("[%s]:%d", k.Address, k.Port)}
}

// writeIpvsadmName is how `ipvsadm -Ln` heads service k: "TCP
// 198.51.100.1:8003", "TCP [2001:db8:100::1]:8003", "FWM 3003", "FWM 3003
// IPv6" (single spaces).
func writeIpvsadmName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		name := fmt.Sprintf("FWM %d", k.FWMark)
		if k.Family == ipvs.FamilyIPv6 {
			name += " IPv6"
		}
		return name
	}
	addr := k.Address.String()
	if k.Address.Is6() {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s %s:%d", strings.ToUpper(k.Protocol.String()), addr, k.Port)
}

// writeIpvsadmDest is how `ipvsadm -Ln` lists real server d: address,
// forwarding method and weight ("203.0.113.11:80 Masq 1").
func writeIpvsadmDest(d ipvs.Destination) string {
	fwd := map[ipvs.ForwardMethod]string{
		ipvs.ForwardMasq: "Masq", ipvs.ForwardLocal: "Local", ipvs.ForwardTunnel: "Tunnel",
		ipvs.ForwardRoute: "Route", ipvs.ForwardBypass: "Bypass",
	}[d.Forward]
	return fmt.Sprintf("%s %s %d", d.Server(), fwd, d.Weight)
}

// writeIpvsadmEntry is one service of `ipvsadm -Ln`.
type writeIpvsadmEntry struct {
	scheduler string
	dests     []string // as writeIpvsadmDest prints them, sorted
}

// writeIpvsadmList runs `ipvsadm -Ln` in the director and returns its
// services by writeIpvsadmName.
func writeIpvsadmList(t *testing.T) map[string]*writeIpvsadmEntry {
	t.Helper()
	out := inNS(t, "director", "ipvsadm", "-Ln")
	m := map[string]*writeIpvsadmEntry{}
	var cur *writeIpvsadmEntry
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && slices.Contains([]string{"TCP", "UDP", "SCTP", "FWM"}, f[0]):
			name, rest := f[0]+" "+f[1], f[2:]
			if f[0] == "FWM" && rest[0] == "IPv6" {
				name, rest = name+" IPv6", rest[1:]
			}
			if len(rest) == 0 {
				t.Fatalf("ipvsadm -Ln: no scheduler in %q", line)
			}
			cur = &writeIpvsadmEntry{scheduler: rest[0]}
			m[name] = cur
		case len(f) == 6 && f[0] == "->" && cur != nil:
			cur.dests = append(cur.dests, strings.Join(f[1:4], " "))
		}
	}
	for _, e := range m {
		slices.Sort(e.dests)
	}
	return m
}

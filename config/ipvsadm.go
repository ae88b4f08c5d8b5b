package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// ParseIpvsadm reads the rules ipvsadm -S -n prints (the format of
// /etc/sysconfig/ipvsadm and of ipvsadm-restore) into the table the
// kernel would hold after restoring them: the services in the order of
// their -A lines, each with its real servers in the order of their -a
// lines, as ipvs.Writer would create them (no counters; a zero Netmask
// for a service without persistence). name is used in error messages.
//
// It reads -A (add service), -a (add real server) and -C (clear) lines
// with short or long options, one rule per line, and every option
// ipvsadm -S writes: scheduler flags (-b), one-packet scheduling (-o)
// and the persistence engine (--pe) too. Blank lines and # comments are
// skipped, and a leading "ipvsadm" word is allowed, so simple scripts
// read too. Addresses must be numeric (-n). No rules at all is an empty
// table, which is what ipvsadm -S -n prints for one.
//
// On failure the error is an Errors with one problem per bad line
// (file:line: message).
func ParseIpvsadm(r io.Reader, name string) ([]ipvs.Service, error) {
	im, err := readIpvsadm(r, name, true)
	if err != nil {
		return nil, err
	}
	out := make([]ipvs.Service, len(im.services))
	for i, s := range im.services {
		out[i] = s.Service
	}
	return out, nil
}

// ImportIpvsadm turns the rules ParseIpvsadm reads into a Config; name is
// used in error messages. Scheduler flags (-b), one-packet scheduling
// (-o) and persistence engines (--pe) cannot be expressed in the file
// yet and are refused.
//
// Each service is named after its identity ("tcp-192.0.2.1-80",
// "udp-2001:db8::1-53", "fwmark-42", "fwmark-42-ipv6") and gets the
// defaults' tcp check on each real server's port when it is a TCP service
// whose real servers all have a port; every other service (UDP, SCTP,
// fwmark, port 0) gets an icmp check, since a UDP or SCTP probe needs a
// payload only the operator knows and fwmark real servers have no port.
//
// On failure the error is an Errors with one problem per bad line.
func ImportIpvsadm(r io.Reader, name string) (*Config, error) {
	im, err := readIpvsadm(r, name, false)
	if err != nil {
		return nil, err
	}
	if len(im.services) == 0 {
		return nil, Errors{{File: name, Msg: "no -A (add service) lines: nothing to import"}}
	}
	c := &Config{Defaults: builtinDefaults(), Controller: builtinController()}
	for _, s := range im.services {
		c.Services = append(c.Services, s.config(&c.Defaults))
	}
	// The file Marshal writes must be one Load accepts; a failure here is a
	// bug in the importer, reported rather than written out.
	out, err := Marshal(c)
	if err != nil {
		return nil, err
	}
	if _, err := Parse(out, name+" (imported)"); err != nil {
		return nil, fmt.Errorf("the imported configuration does not validate (please report this): %w", err)
	}
	return c, nil
}

// readIpvsadm reads every line of r. With kernel, the options only the
// kernel's table can hold (-b, -o, --pe) are read; without, they are
// refused as the config file cannot hold them.
func readIpvsadm(r io.Reader, name string, kernel bool) (*importer, error) {
	im := &importer{file: name, kernel: kernel, byKey: map[ipvs.ServiceKey]int{}, failed: map[ipvs.ServiceKey]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		im.line(line, sc.Text())
		if len(im.errs) > maxErrors {
			break
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, Errors{{File: name, Line: line + 1, Msg: "line longer than 1 MiB"}}
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(im.errs) > 0 {
		return nil, im.errs.sorted()
	}
	return im, nil
}

// importer holds the state of one read of rules.
type importer struct {
	file     string
	kernel   bool // read -b, -o and --pe (see readIpvsadm)
	errs     Errors
	services []*importedService
	byKey    map[ipvs.ServiceKey]int  // index in services
	failed   map[ipvs.ServiceKey]bool // -A lines with errors: their -a lines are not reported again
}

// importedService is a service of the rules as the kernel would hold it,
// with where it and its real servers were added.
type importedService struct {
	ipvs.Service
	line int
	// netmask is the persistence prefix length (0 without persistence).
	netmask int
	servers map[netip.AddrPort]int // line of each real server
}

// config returns the service as the config file declares it, with its
// checks (see ImportIpvsadm).
func (s *importedService) config(def *Defaults) Service {
	c := Service{Name: importedName(s.ServiceKey), Key: s.ServiceKey, Scheduler: s.Scheduler, Combine: CombineAll}
	if s.Persistent() {
		c.Persistence = time.Duration(s.Timeout) * time.Second
		c.PersistenceNetmask = s.netmask
	}
	for _, d := range s.Destinations {
		c.RealServers = append(c.RealServers, RealServer{Address: netip.AddrPortFrom(d.Address, d.Port), Weight: int(d.Weight),
			Forward: d.Forward, UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
			Tunnel: Tunnel{Type: d.TunnelType, Port: d.TunnelPort, Flags: d.TunnelFlags}})
	}
	c.PanicThreshold, c.PanicHysteresis = def.PanicThreshold, def.PanicHysteresis
	tcp := c.Key.Protocol == ipvs.TCP && c.Key.FWMark == 0
	for _, rs := range c.RealServers {
		if rs.Address.Port() == 0 {
			tcp = false
		}
	}
	if tcp {
		c.Checks = []Check{def.Check}
		return c
	}
	icmp := def.Check
	icmp.Type, icmp.Port = CheckICMP, 0
	icmp.UDP, icmp.HTTP = nil, nil
	icmp.ICMP = &ICMPCheck{Count: defaultICMPCount, Interval: defaultICMPInterval}
	c.Checks = []Check{icmp}
	return c
}

func (im *importer) errorf(line int, format string, args ...any) {
	if len(im.errs) > maxErrors {
		return
	}
	if len(im.errs) == maxErrors {
		im.errs = append(im.errs, &Error{File: im.file, Line: line, Msg: fmt.Sprintf("too many problems, stopping here (%d reported)", maxErrors)})
		return
	}
	im.errs = append(im.errs, &Error{File: im.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// rule is one parsed line.
type rule struct {
	cmd        string // "-A", "-a", "-C"
	kind       string // "-t", "-u", "--sctp-service", "-f"
	target     string // service address or fwmark
	ipv6       bool
	scheduler  string
	persistent bool
	timeout    string
	netmask    string
	real       string
	forward    ipvs.ForwardMethod
	fwdFlag    string // the option that set forward, "" for the default
	tunType    string // --tun-type, "" for the default (ipip)
	tunPort    string
	tunCsum    string // the checksum option given: --tun-nocsum, --tun-csum or --tun-remcsum
	schedFlags string // -b, read only for the kernel's table
	onePacket  bool   // -o
	pe         string // --pe
	weight     string
	upper      string
	lower      string
}

// longNames maps long options to their short spelling; options without a
// short one keep their long name.
var longNames = map[string]string{
	"--add-service": "-A", "--edit-service": "-E", "--delete-service": "-D", "--clear": "-C",
	"--add-server": "-a", "--edit-server": "-e", "--delete-server": "-d",
	"--tcp-service": "-t", "--udp-service": "-u", "--fwmark-service": "-f", "--ipv6": "-6",
	"--scheduler": "-s", "--persistent": "-p", "--netmask": "-M", "--sched-flags": "-b", "--ops": "-o",
	"--real-server": "-r", "--gatewaying": "-g", "--ipip": "-i", "--masquerading": "-m",
	"--weight": "-w", "--u-threshold": "-x", "--l-threshold": "-y",
}

// unsupported are options the config file cannot express yet; only the
// kernel's table (ParseIpvsadm) takes them.
var unsupported = map[string]string{
	"-b":   "scheduler flags (-b)",
	"-o":   "one-packet scheduling (-o)",
	"--pe": "persistence engines (--pe)",
}

// line handles one line of input.
func (im *importer) line(n int, text string) {
	fields := strings.Fields(text)
	for i, f := range fields {
		if strings.HasPrefix(f, "#") {
			fields = fields[:i]
			break
		}
	}
	if len(fields) > 0 && (fields[0] == "ipvsadm" || strings.HasSuffix(fields[0], "/ipvsadm")) {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return
	}
	r, err := parseRule(fields, im.kernel)
	if err != nil {
		im.errorf(n, "%v", err)
		if key, kerr := serviceKeyOf(r); kerr == nil && r.cmd == "-A" {
			im.failed[key] = true
		}
		return
	}
	switch r.cmd {
	case "-C":
		im.services, im.byKey, im.failed = nil, map[ipvs.ServiceKey]int{}, map[ipvs.ServiceKey]bool{}
	case "-A":
		im.addService(n, r)
	case "-a":
		im.addServer(n, r)
	}
}

// parseRule reads the options of one line; with kernel, those only the
// kernel's table can hold too. The rule is returned even with an error,
// as far as it was read.
func parseRule(fields []string, kernel bool) (*rule, error) {
	r := &rule{forward: ipvs.ForwardRoute}
	seen := map[string]bool{}
	for i := 0; i < len(fields); i++ {
		opt, val, hasVal := fields[i], "", false
		if strings.HasPrefix(opt, "--") {
			if k, v, ok := strings.Cut(opt, "="); ok {
				opt, val, hasVal = k, v, true
			}
			if short, ok := longNames[opt]; ok {
				opt = short
			}
		}
		// arg returns the option's value: after = or the next word.
		arg := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(fields) {
				return "", fmt.Errorf("%s needs a value", fields[i])
			}
			i++
			return fields[i], nil
		}
		if seen[opt] {
			return r, fmt.Errorf("%s given twice", fields[i])
		}
		seen[opt] = true
		var err error
		switch opt {
		case "-A", "-a", "-C":
			if r.cmd != "" {
				return r, fmt.Errorf("%s and %s on one line", r.cmd, opt)
			}
			r.cmd = opt
		case "-E", "-e", "-D", "-d":
			return r, fmt.Errorf("%s: only -A (add service), -a (add server) and -C (clear) lines, as ipvsadm -S writes them, can be imported", fields[i])
		case "-t", "-u", "--sctp-service", "-f":
			if r.kind != "" {
				return r, fmt.Errorf("%s and %s on one line: a rule names one service", r.kind, opt)
			}
			r.kind = opt
			r.target, err = arg()
		case "-6":
			r.ipv6 = true
		case "-s":
			r.scheduler, err = arg()
		case "-p":
			r.persistent = true
			// The timeout is optional: take the next word unless it is an
			// option.
			if hasVal {
				r.timeout = val
			} else if i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") {
				i++
				r.timeout = fields[i]
			}
		case "-M":
			r.netmask, err = arg()
		case "-r":
			r.real, err = arg()
		case "-g", "-i", "-m":
			if r.fwdFlag != "" {
				return r, fmt.Errorf("%s and %s on one line: a real server has one forwarding method", r.fwdFlag, opt)
			}
			r.fwdFlag = opt
			r.forward = map[string]ipvs.ForwardMethod{"-g": ipvs.ForwardRoute, "-i": ipvs.ForwardTunnel, "-m": ipvs.ForwardMasq}[opt]
		case "-w":
			r.weight, err = arg()
		case "-x":
			r.upper, err = arg()
		case "-y":
			r.lower, err = arg()
		case "--tun-type":
			r.tunType, err = arg()
		case "--tun-port":
			r.tunPort, err = arg()
		case "--tun-nocsum", "--tun-csum", "--tun-remcsum":
			if r.tunCsum != "" {
				return r, fmt.Errorf("%s and %s on one line: a tunnel has one checksum option", r.tunCsum, opt)
			}
			r.tunCsum = opt
		case "-b", "-o", "--pe":
			if !kernel {
				return r, fmt.Errorf("%s: %s cannot be expressed in the config file yet", fields[i], unsupported[opt])
			}
			switch opt {
			case "-b":
				r.schedFlags, err = arg()
			case "-o":
				r.onePacket = true
			case "--pe":
				r.pe, err = arg()
			}
		default:
			return r, fmt.Errorf("unknown option %q", fields[i])
		}
		if err != nil {
			return r, err
		}
	}
	switch {
	case r.cmd == "":
		return r, errors.New("no command: each line needs -A (add service), -a (add server) or -C (clear)")
	case r.cmd == "-C":
		if len(fields) > 1 {
			return r, errors.New("-C takes no options")
		}
		return r, nil
	case r.kind == "":
		return r, fmt.Errorf("%s needs a service: -t, -u or --sctp-service ADDR:PORT, or -f MARK", r.cmd)
	case r.cmd == "-A" && (r.real != "" || r.fwdFlag != "" || r.weight != "" || r.upper != "" || r.lower != "" || r.tunType != "" || r.tunPort != "" || r.tunCsum != ""):
		return r, errors.New("real server options (-r -g -i -m -w -x -y --tun-*) belong on -a lines, not -A")
	case (r.tunType != "" || r.tunPort != "" || r.tunCsum != "") && r.forward != ipvs.ForwardTunnel:
		return r, errors.New("tunnel options (--tun-type, --tun-port, --tun-*csum) need tunnelling (-i)")
	case r.cmd == "-a" && r.real == "":
		return r, errors.New("-a needs the real server: -r ADDR[:PORT]")
	case r.cmd == "-a" && (r.scheduler != "" || r.persistent || r.netmask != ""):
		return r, errors.New("service options (-s -p -M) belong on -A lines, not -a")
	case r.cmd == "-a" && (r.schedFlags != "" || r.onePacket || r.pe != ""):
		return r, errors.New("service options (-b -o --pe) belong on -A lines, not -a")
	case r.ipv6 && r.kind != "-f":
		return r, errors.New("-6 is only for -f services: an address service's family is its address's")
	}
	return r, nil
}

// serviceKeyOf returns the identity a rule names.
func serviceKeyOf(r *rule) (ipvs.ServiceKey, error) {
	if r == nil || r.kind == "" {
		return ipvs.ServiceKey{}, errors.New("no service")
	}
	if r.kind == "-f" {
		mark, err := strconv.ParseUint(r.target, 10, 32)
		if err != nil || mark == 0 {
			return ipvs.ServiceKey{}, fmt.Errorf("-f %s: the firewall mark must be a number from 1 to %d", r.target, uint32(math.MaxUint32))
		}
		family := ipvs.FamilyIPv4
		if r.ipv6 {
			family = ipvs.FamilyIPv6
		}
		return ipvs.ServiceKey{Family: family, FWMark: uint32(mark)}, nil
	}
	ap, err := parseHostPort(r.target)
	if err != nil {
		return ipvs.ServiceKey{}, fmt.Errorf("%s %s: %v", r.kind, r.target, err)
	}
	if msg := checkAddr(ap.Addr()); msg != "" {
		return ipvs.ServiceKey{}, fmt.Errorf("%s %s: %s", r.kind, r.target, msg)
	}
	proto := map[string]ipvs.Protocol{"-t": ipvs.TCP, "-u": ipvs.UDP, "--sctp-service": ipvs.SCTP}[r.kind]
	return ipvs.ServiceKey{Family: familyOf(ap.Addr()), Protocol: proto, Address: ap.Addr(), Port: ap.Port()}, nil
}

// parseHostPort reads ipvsadm's numeric host[:port]: 192.0.2.1:80,
// 192.0.2.1, [2001:db8::1]:80, [2001:db8::1]. A missing port is 0.
func parseHostPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	host := s
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") && !strings.Contains(host, "::") && strings.Count(host, ":") == 1 {
		return netip.AddrPort{}, errors.New("not a numeric ADDR:PORT (save the table with ipvsadm -S -n)")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, errors.New("not a numeric ADDR:PORT (save the table with ipvsadm -S -n)")
	}
	return netip.AddrPortFrom(a, 0), nil
}

// addService handles an -A line.
func (im *importer) addService(n int, r *rule) {
	key, err := serviceKeyOf(r)
	if err != nil {
		im.errorf(n, "%v", err)
		return
	}
	if i, dup := im.byKey[key]; dup {
		im.errorf(n, "%s is already added on line %d", key, im.services[i].line)
		return
	}
	s := &importedService{line: n, servers: map[netip.AddrPort]int{}}
	s.ServiceKey, s.Scheduler = key, DefaultScheduler
	fail := func(format string, args ...any) {
		im.errorf(n, format, args...)
		im.failed[key] = true
	}
	if r.scheduler != "" {
		if !contains(Schedulers, r.scheduler) {
			fail("-s %s: unknown scheduler; one of %s", r.scheduler, strings.Join(Schedulers, ", "))
			return
		}
		s.Scheduler = r.scheduler
	}
	if r.persistent {
		secs := uint64(300) // ipvsadm's default
		if r.timeout != "" {
			v, err := strconv.ParseUint(r.timeout, 10, 32)
			if err != nil || v == 0 {
				fail("-p %s: the persistence timeout must be a number of seconds from 1 to %d", r.timeout, uint32(math.MaxUint32))
				return
			}
			secs = v
		}
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = uint32(secs)
		s.netmask = 32
		if key.Family == ipvs.FamilyIPv6 {
			s.netmask = 128
		}
	}
	if r.netmask != "" {
		bits, ok := parseNetmask(r.netmask, key.Family)
		switch {
		case !r.persistent:
			fail("-M %s: the netmask only applies to persistent services (-p)", r.netmask)
			return
		case !ok && key.Family == ipvs.FamilyIPv6:
			fail("-M %s: an IPv6 netmask is a prefix length from 1 to 128", r.netmask)
			return
		case !ok:
			fail("-M %s: not a netmask like 255.255.255.0", r.netmask)
			return
		case bits == 0:
			fail("-M %s: %s", r.netmask, netmaskZero)
			return
		}
		s.netmask = bits
	}
	if r.persistent {
		s.Netmask = ipvs.PersistenceNetmask(key.Family, s.netmask)
	}
	if key.FWMark == 0 && key.Port == 0 && !r.persistent {
		fail("%s %s: port 0 (all ports) needs persistence (-p)", r.kind, r.target)
		return
	}
	if r.schedFlags != "" {
		flags, err := parseSchedFlags(r.schedFlags)
		if err != nil {
			fail("-b %s: %v", r.schedFlags, err)
			return
		}
		s.Flags |= flags
	}
	if r.onePacket {
		s.Flags |= ipvs.FlagOnePacket
	}
	if r.pe != "" {
		if !contains(persistenceEngines, r.pe) {
			fail("--pe %s: unknown persistence engine; one of %s", r.pe, strings.Join(persistenceEngines, ", "))
			return
		}
		s.PEName = r.pe
	}
	im.byKey[key] = len(im.services)
	im.services = append(im.services, s)
}

// persistenceEngines are the persistence engines the kernel has.
var persistenceEngines = []string{"sip"}

// schedFlagNames are the names ipvsadm -b takes, ipvsadm's generic ones
// and the sh and mh schedulers' own, for IP_VS_SVC_F_SCHED1..3.
var schedFlagNames = map[string]uint32{
	"flag-1": ipvs.FlagSched1, "flag-2": ipvs.FlagSched2, "flag-3": ipvs.FlagSched3,
	"sh-fallback": ipvs.FlagSched1, "sh-port": ipvs.FlagSched2,
	"mh-fallback": ipvs.FlagSched1, "mh-port": ipvs.FlagSched2,
}

// parseSchedFlags reads -b's comma-separated flags.
func parseSchedFlags(list string) (uint32, error) {
	var flags uint32
	for _, name := range strings.Split(list, ",") {
		f, ok := schedFlagNames[name]
		if !ok {
			names := make([]string, 0, len(schedFlagNames))
			for n := range schedFlagNames {
				names = append(names, n)
			}
			slices.Sort(names)
			return 0, fmt.Errorf("unknown scheduler flag %q; one of %s", name, strings.Join(names, ", "))
		}
		flags |= f
	}
	return flags, nil
}

// parseNetmask reads -M: a dotted mask for IPv4, a prefix length for IPv6.
func parseNetmask(s string, family uint16) (int, bool) {
	if family == ipvs.FamilyIPv6 {
		v, err := strconv.Atoi(s)
		return v, err == nil && v >= 1 && v <= 128
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	return maskBits(a)
}

// importedName names a service after its identity.
func importedName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		name := "fwmark-" + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.Family == ipvs.FamilyIPv6 {
			name += "-ipv6"
		}
		return name
	}
	return k.Protocol.String() + "-" + k.Address.String() + "-" + strconv.Itoa(int(k.Port))
}

// addServer handles an -a line.
func (im *importer) addServer(n int, r *rule) {
	key, err := serviceKeyOf(r)
	if err != nil {
		im.errorf(n, "%v", err)
		return
	}
	i, ok := im.byKey[key]
	if !ok {
		if im.failed[key] {
			return
		}
		hint := ""
		if key.FWMark != 0 && !r.ipv6 {
			hint = " (for an IPv6 fwmark service add -6)"
		}
		im.errorf(n, "%s: no such service: add it with an -A line before its real servers%s", key, hint)
		return
	}
	s := im.services[i]
	ap, err := parseHostPort(r.real)
	if err != nil {
		im.errorf(n, "-r %s: %v", r.real, err)
		return
	}
	if msg := checkAddr(ap.Addr()); msg != "" {
		im.errorf(n, "-r %s: %s", r.real, msg)
		return
	}
	if familyOf(ap.Addr()) != key.Family && r.forward != ipvs.ForwardTunnel {
		im.errorf(n, "-r %s: %s real server in an %s service; only tunnelled (-i) real servers may differ", r.real, familyLabel(familyOf(ap.Addr())), familyLabel(key.Family))
		return
	}
	// ipvsadm's own rules: a missing port is the service's, and direct
	// routing and tunnels always use the service's port.
	if key.FWMark == 0 && (ap.Port() == 0 || r.forward != ipvs.ForwardMasq) {
		ap = netip.AddrPortFrom(ap.Addr(), key.Port)
	}
	d := ipvs.Destination{Family: familyOf(ap.Addr()), Address: ap.Addr(), Port: ap.Port(), Weight: defaultWeight, Forward: r.forward}
	for _, f := range []struct {
		opt, val string
		max      uint64
		dst      func(uint64)
	}{
		{"-w", r.weight, maxWeight, func(v uint64) { d.Weight = int32(v) }},
		{"-x", r.upper, maxThreshold, func(v uint64) { d.UpperThreshold = uint32(v) }},
		{"-y", r.lower, maxThreshold, func(v uint64) { d.LowerThreshold = uint32(v) }},
	} {
		if f.val == "" {
			continue
		}
		v, err := strconv.ParseUint(f.val, 10, 64)
		if err != nil || v > f.max {
			im.errorf(n, "%s %s: must be a number from 0 to %d", f.opt, f.val, f.max)
			return
		}
		f.dst(v)
	}
	if d.LowerThreshold > d.UpperThreshold {
		im.errorf(n, "-y %d is above -x %d: the kernel refuses a lower threshold above the upper one", d.LowerThreshold, d.UpperThreshold)
		return
	}
	t, err := importTunnel(r)
	if err != nil {
		im.errorf(n, "%v", err)
		return
	}
	d.TunnelType, d.TunnelPort, d.TunnelFlags = t.Type, t.Port, t.Flags
	if prev, dup := s.servers[ap]; dup {
		im.errorf(n, "-r %s: real server %s of %s is already added on line %d", r.real, ap, key, prev)
		return
	}
	s.servers[ap] = n
	s.Destinations = append(s.Destinations, d)
}

// importTunnel reads the tunnel options of an -a line with the rules the
// config file applies (see decoder.tunnel).
func importTunnel(r *rule) (Tunnel, error) {
	var t Tunnel
	if r.tunType != "" {
		i := slices.Index(tunnelNames, r.tunType)
		if i < 0 {
			return t, fmt.Errorf("--tun-type %s: must be one of %s", r.tunType, strings.Join(tunnelNames, ", "))
		}
		t.Type = tunnelTypes[i]
	}
	switch {
	case r.tunPort != "" && t.Type != ipvs.TunnelGUE:
		return t, fmt.Errorf("--tun-port is only for --tun-type gue")
	case r.tunPort != "":
		v, err := strconv.ParseUint(r.tunPort, 10, 16)
		if err != nil || v == 0 {
			return t, fmt.Errorf("--tun-port %s: must be a number from 1 to 65535", r.tunPort)
		}
		t.Port = uint16(v)
	case t.Type == ipvs.TunnelGUE:
		return t, errors.New("--tun-type gue needs --tun-port (the kernel refuses port 0)")
	}
	switch r.tunCsum {
	case "--tun-csum":
		t.Flags = ipvs.TunnelChecksum
	case "--tun-remcsum":
		t.Flags = ipvs.TunnelRemoteChecksum
	}
	switch {
	case t.Flags != 0 && t.Type == ipvs.TunnelIPIP:
		return t, fmt.Errorf("%s: ipip tunnels have no checksum option (use --tun-type gue or gre)", r.tunCsum)
	case t.Flags == ipvs.TunnelRemoteChecksum && t.Type != ipvs.TunnelGUE:
		return t, errors.New("--tun-remcsum is only for --tun-type gue")
	}
	return t, nil
}

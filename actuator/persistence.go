package actuator

import (
	"errors"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// SysctlReader reads net.ipv4.vs.* in the table's network namespace;
// *ipvs.Reader satisfies it. A TableReader that also satisfies it is
// used when Options.Sysctls is nil.
type SysctlReader interface {
	Sysctl(name string) (int, error)
}

// Sysctls are the IPVS sysctls that decide what a drain does, as the
// controller's last pass read them; nil while unknown.
type Sysctls struct {
	ExpireQuiescentTemplate *int
	ExpireNodestConn        *int
}

// readSysctls reads the sysctls at the start of a pass. A sysctl that
// cannot be read is unknown; the error is logged once per distinct
// message (ip_vs not loaded is not logged: the table read says that).
func (p *pass) readSysctls() {
	c := p.c
	if c.sysctls == nil {
		return
	}
	read := func(name string) *int {
		v, err := c.sysctls.Sysctl(name)
		if err != nil {
			if msg := err.Error(); msg != c.sysctlErr && !errors.Is(err, ipvs.ErrNoSysctl) {
				c.sysctlErr = msg
				c.log.Warn("cannot read an IPVS sysctl; whether a drain stops persistent clients is unknown", "err", err)
			}
			return nil
		}
		return &v
	}
	p.sysctls = Sysctls{
		ExpireQuiescentTemplate: read(ipvs.SysctlExpireQuiescentTemplate),
		ExpireNodestConn:        read(ipvs.SysctlExpireNodestConn),
	}
}

// drainKeepsPersistent reports whether a drain (weight 0: on_failure
// drain, maintenance) of a real server of s leaves its persistent clients
// on it: s is persistent and the kernel keeps persistence templates of
// quiescent servers (expire_quiescent_template 0). It warns once per
// service while that holds.
func (p *pass) drainKeepsPersistent(s *config.Service, mem *serviceMemory) bool {
	eqt := p.sysctls.ExpireQuiescentTemplate
	keeps := s.Persistence > 0 && eqt != nil && *eqt == 0
	if keeps != mem.drainKeeps {
		mem.drainKeeps = keeps
		if keeps {
			p.c.log.Warn("persistent service: a drained real server (weight 0, on_failure drain or maintenance) keeps getting the clients that have a persistence template, because net.ipv4.vs.expire_quiescent_template is 0; set it to 1 (sysctl -w net.ipv4.vs.expire_quiescent_template=1, and in /etc/sysctl.d/) so that a drain also moves sticky clients",
				"service", s.Key.String(), "name", s.Name, "persistence", s.Persistence)
		} else if s.Persistence > 0 && eqt != nil {
			p.c.log.Info("persistent service: net.ipv4.vs.expire_quiescent_template is 1, a drain now moves sticky clients too",
				"service", s.Key.String(), "name", s.Name)
		}
	}
	return keeps
}

package actuator

import (
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// serviceSpec is what the controller compares and writes of a service:
// its scheduler and persistence.
type serviceSpec struct {
	scheduler  string
	persistent bool
	timeout    uint32 // seconds
	netmask    uint32 // as the kernel reports it (see ipvs.Service.Netmask)
}

// matches reports whether the kernel's service k is what s asks for; the
// timeout and netmask of a service without persistence do not matter.
func (s serviceSpec) matches(k serviceSpec) bool {
	if s.scheduler != k.scheduler || s.persistent != k.persistent {
		return false
	}
	return !s.persistent || (s.timeout == k.timeout && s.netmask == k.netmask)
}

// wantService returns the spec a declared service asks for.
func wantService(s *config.Service) serviceSpec {
	spec := serviceSpec{scheduler: s.Scheduler}
	if s.Persistence > 0 {
		spec.persistent = true
		spec.timeout = uint32(s.Persistence / time.Second)
		spec.netmask = ipvs.PersistenceNetmask(s.Key.Family, s.PersistenceNetmask)
	}
	return spec
}

// kernelService returns the spec of a service read from the table.
func kernelService(s *ipvs.Service) serviceSpec {
	return serviceSpec{scheduler: s.Scheduler, persistent: s.Persistent(), timeout: s.Timeout, netmask: s.Netmask}
}

// serviceFor returns the service to create, or to update from the
// kernel's k (nil when creating): the spec's scheduler and persistence,
// and the kernel's other flags and persistence engine kept, since the
// configuration does not set them.
func serviceFor(key ipvs.ServiceKey, spec serviceSpec, k *ipvs.Service) *ipvs.Service {
	s := &ipvs.Service{ServiceKey: key, Scheduler: spec.scheduler}
	if k != nil {
		s.Flags = k.Flags &^ (ipvs.FlagPersistent | ipvs.FlagHashed)
		s.PEName = k.PEName
		s.Netmask = k.Netmask
	}
	if spec.persistent {
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = spec.timeout
		s.Netmask = spec.netmask
	}
	return s
}

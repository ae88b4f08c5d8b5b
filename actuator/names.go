package actuator

import (
	"cmp"
	"slices"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// names are the strings the controller knows a configuration's services
// and real servers by (destKey's: the service key's String() and
// "addr:port"), made once per configuration instead of on every pass:
// at 10,000 real servers a pass would otherwise make 40,000 strings,
// and its memory, records and the state file would each hold copies.
// A pass, a targeted write and the memory they leave share these.
type names struct {
	cfg      *config.Config
	services []string   // of cfg.Services[i]
	servers  [][]string // of cfg.Services[i].RealServers[j]
	// index maps a service's name to its index in cfg.Services.
	index map[string]int
	// sorted are the real servers of cfg sorted by service, then server:
	// the order of the saved records.
	sorted []namePos
}

// namePos is the j-th real server of the i-th service.
type namePos struct{ service, server int32 }

// namesOf returns the names of cfg, made when cfg is not the
// configuration of the last call. They are the health checks' own
// strings for the real servers they know (Options.Labels), so that the
// controller's memory, its records and the checks share one copy of
// each. c.passMu is held.
func (c *Controller) namesOf(cfg *config.Config) *names {
	if c.names != nil && c.names.cfg == cfg {
		return c.names
	}
	var known map[destKey]destKey
	if c.labels != nil {
		shared := c.labels.LabeledServers()
		known = make(map[destKey]destKey, len(shared))
		for _, ls := range shared {
			k := destKey{ls.Service, ls.Server}
			known[k] = k
		}
	}
	n := &names{cfg: cfg, services: make([]string, len(cfg.Services)),
		servers: make([][]string, len(cfg.Services)), index: make(map[string]int, len(cfg.Services))}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		n.services[i] = s.Key.String()
		n.servers[i] = make([]string, len(s.RealServers))
		for j := range s.RealServers {
			k := destKey{n.services[i], s.RealServers[j].Address.String()}
			if shared, ok := known[k]; ok {
				k = shared
				n.services[i] = k.service
			}
			n.servers[i][j] = k.server
		}
		n.index[n.services[i]] = i
	}
	count := 0
	for i := range n.servers {
		count += len(n.servers[i])
	}
	n.sorted = make([]namePos, 0, count)
	for i := range n.servers {
		for j := range n.servers[i] {
			n.sorted = append(n.sorted, namePos{int32(i), int32(j)})
		}
	}
	slices.SortFunc(n.sorted, func(a, b namePos) int {
		ka, kb := n.key(int(a.service), int(a.server)), n.key(int(b.service), int(b.server))
		return cmp.Or(cmp.Compare(ka.service, kb.service), cmp.Compare(ka.server, kb.server))
	})
	c.names = n
	return n
}

// key returns the destKey of the j-th real server of the i-th service.
func (n *names) key(i, j int) destKey { return destKey{n.services[i], n.servers[i][j]} }

package actuator

import "github.com/lvs-sidecar/lvs-sidecar/config"

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
}

// namesOf returns the names of cfg, made when cfg is not the
// configuration of the last call. c.passMu is held.
func (c *Controller) namesOf(cfg *config.Config) *names {
	if c.names != nil && c.names.cfg == cfg {
		return c.names
	}
	n := &names{cfg: cfg, services: make([]string, len(cfg.Services)),
		servers: make([][]string, len(cfg.Services)), index: make(map[string]int, len(cfg.Services))}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		n.services[i] = s.Key.String()
		n.index[n.services[i]] = i
		n.servers[i] = make([]string, len(s.RealServers))
		for j := range s.RealServers {
			n.servers[i][j] = s.RealServers[j].Address.String()
		}
	}
	c.names = n
	return n
}

// key returns the destKey of the j-th real server of the i-th service.
func (n *names) key(i, j int) destKey { return destKey{n.services[i], n.servers[i][j]} }

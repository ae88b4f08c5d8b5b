package collector

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

func svc(key ipvs.ServiceKey, dsts ...ipvs.Destination) ipvs.Service {
	return ipvs.Service{ServiceKey: key, Scheduler: "rr", Flags: ipvs.FlagHashed, Destinations: dsts}
}

func tcp4(addr string, port uint16) ipvs.ServiceKey {
	return ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr(addr), Port: port}
}

func dst(addrPort string) ipvs.Destination {
	ap := netip.MustParseAddrPort(addrPort)
	fam := ipvs.FamilyIPv4
	if ap.Addr().Is6() {
		fam = ipvs.FamilyIPv6
	}
	return ipvs.Destination{Family: fam, Address: ap.Addr(), Port: ap.Port(), Weight: 1}
}

// TestUniqueSeries feeds tables whose services and real servers look alike
// in some way (the shapes other exporters get wrong) to a pedantic registry,
// which fails the gather on any repeated series, and counts the series.
func TestUniqueSeries(t *testing.T) {
	for _, tt := range uniqueSeriesCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCollector(sourceOf(step{snap: &ipvs.Snapshot{Services: tt.services}}), Options{})
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(c)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatalf("gather: %v", err)
			}
			got := map[string]int{}
			var services, servers float64
			for _, mf := range mfs {
				got[mf.GetName()] = len(mf.GetMetric())
				switch mf.GetName() {
				case "ipvs_services":
					services = mf.GetMetric()[0].GetGauge().GetValue()
				case "ipvs_real_servers":
					servers = mf.GetMetric()[0].GetGauge().GetValue()
				}
			}
			for name, want := range map[string]int{
				"ipvs_service_info":                     tt.wantServices,
				"ipvs_service_connections_total":        tt.wantServices,
				"ipvs_real_server_info":                 tt.wantServers,
				"ipvs_real_server_outgoing_bytes_total": tt.wantServers,
			} {
				if got[name] != want {
					t.Errorf("%s has %d series, want %d", name, got[name], want)
				}
			}
			if services != float64(tt.wantServices) || servers != float64(tt.wantServers) {
				t.Errorf("ipvs_services %v, ipvs_real_servers %v; want %d, %d", services, servers, tt.wantServices, tt.wantServers)
			}
		})
	}
}

// uniqueSeriesCase is a table whose services or real servers look alike,
// with the number of distinct services and real servers in it.
type uniqueSeriesCase struct {
	name         string
	services     []ipvs.Service
	wantServices int
	wantServers  int
}

// uniqueSeriesCases are the shapes other exporters get wrong.
func uniqueSeriesCases() []uniqueSeriesCase {
	vip := netip.MustParseAddr("192.0.2.1")
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	pool := []ipvs.Destination{dst("10.0.0.1:80"), dst("10.0.0.2:80"), dst("10.0.0.3:80")}

	var onePerProtocol []ipvs.Service
	for _, proto := range []ipvs.Protocol{ipvs.TCP, ipvs.UDP, ipvs.SCTP} {
		for port := uint16(1); port <= 50; port++ {
			onePerProtocol = append(onePerProtocol, svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: proto, Address: vip, Port: port}, pool...))
		}
	}

	return []uniqueSeriesCase{
		{"one VIP, three protocols, 50 ports, same real servers", onePerProtocol, 150, 450},
		{"fwmark on both families and equal to a port", []ipvs.Service{
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 80}, dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 80}, dst("[2001:db8::1]:80")),
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: vip, Port: 80}, dst("10.0.0.1:80")),
		}, 4, 4},
		{"fwmark service with stray protocol, address and port", []ipvs.Service{
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: vip, Port: 80, FWMark: 7}, dst("10.0.0.1:80")),
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.1:80")),
		}, 2, 2},
		{"IPv4 and IPv4-mapped IPv6 VIP", []ipvs.Service{
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: mapped, Port: 80}, dst("[::ffff:10.0.0.1]:80"), dst("10.0.0.1:80")),
		}, 2, 3},
		{"one real server address on many ports", []ipvs.Service{
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.1:80"), dst("10.0.0.1:8080"), dst("10.0.0.1:0"), dst("[2001:db8::1]:80"), dst("[2001:db8::1]:8080")),
		}, 1, 5},
		{"unknown protocol numbers and families", []ipvs.Service{
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: 98, Address: vip, Port: 80}, dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: 99, Address: vip, Port: 80}, dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: 7, FWMark: 1}, dst("10.0.0.1:80")),
			svc(ipvs.ServiceKey{Family: 8, FWMark: 1}, dst("10.0.0.1:80")),
		}, 4, 4},
		{"a dump torn by a concurrent change repeats entries", []ipvs.Service{
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.1:80"), dst("10.0.0.2:80"), dst("10.0.0.1:80")),
			svc(tcp4("192.0.2.1", 443), dst("10.0.0.1:443")),
			svc(tcp4("192.0.2.1", 80), dst("10.0.0.9:80")),
		}, 2, 3},
		{"scheduler name that is not UTF-8", []ipvs.Service{
			{ServiceKey: tcp4("192.0.2.1", 80), Scheduler: "w\xffrr", PEName: "\xfe"},
		}, 1, 0},
	}
}

package collector

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// counter converts a kernel counter to the float64 every Prometheus sample
// is. float64 holds every integer up to 2^53 exactly (9e15: a 100 Gbit/s
// director needs about 23 years of bytes to get there), so the value is
// exact in practice; above that it is rounded to the nearest float64, never
// wrapped.
func counter(v uint64) float64 { return float64(v) }

// statValues returns s in the order of statDescs.
func statValues(s *ipvs.Stats) [5]float64 {
	return [5]float64{
		counter(s.Connections), counter(s.PacketsIn), counter(s.PacketsOut),
		counter(s.BytesIn), counter(s.BytesOut),
	}
}

// labelValue makes a string from the kernel a valid label value: the
// registry rejects the whole scrape for one value that is not UTF-8.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// serviceLabelValues returns the values of serviceLabels for s.
func serviceLabelValues(s *ipvs.Service) []string {
	v := make([]string, len(serviceLabels), len(realServerLabels))
	v[0] = s.ServiceKey.String()
	v[1] = ipvs.FamilyName(s.Family)
	if s.FWMark != 0 {
		v[5] = strconv.FormatUint(uint64(s.FWMark), 10)
		return v
	}
	v[2] = s.Protocol.String()
	v[3] = s.Address.String()
	v[4] = strconv.FormatUint(uint64(s.Port), 10)
	return v
}

// userFlags are the service flags an operator sets, in the order the
// flags label lists them. FlagHashed is internal and never shown.
var userFlags = []struct {
	bit  uint32
	name string
}{
	{ipvs.FlagPersistent, "persistent"},
	{ipvs.FlagOnePacket, "ops"},
	{ipvs.FlagSched1, "sched1"},
	{ipvs.FlagSched2, "sched2"},
	{ipvs.FlagSched3, "sched3"},
}

// flagsLabel renders the user-visible flags as "persistent,ops" ("" if none).
func flagsLabel(flags uint32) string {
	var b strings.Builder
	for _, f := range userFlags {
		if flags&f.bit == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.name)
	}
	return b.String()
}

// emitSnapshot sends the metrics of a snapshot that was read.
func (c *Collector) emitSnapshot(ch chan<- prometheus.Metric, snap *ipvs.Snapshot) {
	d := c.descs
	// A netlink dump that races with changes to the table can repeat an
	// entry; a repeated series would fail the whole scrape, so only the
	// first of each service (and of each real server in it) is emitted.
	seenServices := make(map[string]struct{}, len(snap.Services))
	seenServers := map[string]struct{}{}
	var nServices, nServers int
	for i := range snap.Services {
		s := &snap.Services[i]
		lv := serviceLabelValues(s)
		if _, dup := seenServices[lv[0]]; dup {
			continue
		}
		seenServices[lv[0]] = struct{}{}
		nServices++

		clear(seenServers)
		for j := range s.Destinations {
			dst := &s.Destinations[j]
			rlv := append(lv[:len(serviceLabels):len(serviceLabels)], dst.Server())
			if _, dup := seenServers[rlv[6]]; dup {
				continue
			}
			seenServers[rlv[6]] = struct{}{}
			c.emitDestination(ch, dst, rlv)
		}
		nServers += len(seenServers)

		for k, v := range statValues(&s.Stats) {
			ch <- prometheus.MustNewConstMetric(d.serviceStats[k], prometheus.CounterValue, v, lv...)
		}
		ch <- prometheus.MustNewConstMetric(d.serviceRealServers, prometheus.GaugeValue, float64(len(seenServers)), lv...)
		var persistence float64
		if s.Persistent() {
			persistence = float64(s.Timeout)
		}
		ch <- prometheus.MustNewConstMetric(d.servicePersistence, prometheus.GaugeValue, persistence, lv...)
		ch <- prometheus.MustNewConstMetric(d.serviceInfo, prometheus.GaugeValue, 1,
			append(lv, labelValue(s.Scheduler), flagsLabel(s.Flags), labelValue(s.PEName))...)
	}
	ch <- prometheus.MustNewConstMetric(d.services, prometheus.GaugeValue, float64(nServices))
	ch <- prometheus.MustNewConstMetric(d.realServers, prometheus.GaugeValue, float64(nServers))

	if snap.Totals != nil {
		for k, v := range statValues(snap.Totals) {
			ch <- prometheus.MustNewConstMetric(d.totals[k], prometheus.CounterValue, v)
		}
	}
	if snap.Info != nil {
		ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, snap.Info.VersionString())
		ch <- prometheus.MustNewConstMetric(d.connTableSize, prometheus.GaugeValue, float64(snap.Info.ConnTableSize))
	}
	if t := snap.Timeouts; t != nil {
		ch <- prometheus.MustNewConstMetric(d.timeout, prometheus.GaugeValue, float64(t.TCP), "tcp")
		ch <- prometheus.MustNewConstMetric(d.timeout, prometheus.GaugeValue, float64(t.TCPFin), "tcpfin")
		ch <- prometheus.MustNewConstMetric(d.timeout, prometheus.GaugeValue, float64(t.UDP), "udp")
	}
}

// emitDestination sends the metrics of one real server; lv are its
// realServerLabels values.
func (c *Collector) emitDestination(ch chan<- prometheus.Metric, dst *ipvs.Destination, lv []string) {
	d := c.descs
	for k, v := range statValues(&dst.Stats) {
		ch <- prometheus.MustNewConstMetric(d.realServerStats[k], prometheus.CounterValue, v, lv...)
	}
	ch <- prometheus.MustNewConstMetric(d.realServerActive, prometheus.GaugeValue, float64(dst.ActiveConns), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerInactive, prometheus.GaugeValue, float64(dst.InactiveConns), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerPersistent, prometheus.GaugeValue, float64(dst.PersistConns), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerWeight, prometheus.GaugeValue, float64(dst.Weight), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerUpper, prometheus.GaugeValue, float64(dst.UpperThreshold), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerLower, prometheus.GaugeValue, float64(dst.LowerThreshold), lv...)
	ch <- prometheus.MustNewConstMetric(d.realServerInfo, prometheus.GaugeValue, 1, append(lv, dst.Forward.String())...)
}

// emitStatus sends the metrics that describe the scrape itself.
func (c *Collector) emitStatus(ch chan<- prometheus.Metric, start time.Time, up, complete bool) {
	d := c.descs
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, boolValue(up))
	ch <- prometheus.MustNewConstMetric(d.success, prometheus.GaugeValue, boolValue(complete))
	ch <- prometheus.MustNewConstMetric(d.duration, prometheus.GaugeValue, c.now().Sub(start).Seconds())
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package notify

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	sentDesc = prometheus.NewDesc("ipvs_notify_sent_total",
		"Notifications sent to the target (for informs: acknowledged).", []string{"target"}, nil)
	ackedDesc = prometheus.NewDesc("ipvs_notify_acked_total",
		"Informs the target acknowledged.", []string{"target"}, nil)
	failedDesc = prometheus.NewDesc("ipvs_notify_failed_total",
		"Notifications not delivered: a send error, or an inform unacknowledged after every retry.", []string{"target"}, nil)
	droppedDesc = prometheus.NewDesc("ipvs_notify_dropped_total",
		"Notifications dropped because the target's queue was full.", []string{"target"}, nil)
	retriesDesc = prometheus.NewDesc("ipvs_notify_retries_total",
		"Informs sent again after a timeout.", []string{"target"}, nil)
	queueDesc = prometheus.NewDesc("ipvs_notify_queue_length",
		"Notifications waiting in the target's queue.", []string{"target"}, nil)
	capacityDesc = prometheus.NewDesc("ipvs_notify_queue_capacity",
		"Size of the target's queue (queue_size).", []string{"target"}, nil)
)

// Describe implements prometheus.Collector.
func (n *Notifier) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sentDesc, ackedDesc, failedDesc, droppedDesc, retriesDesc, queueDesc, capacityDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one series per configured
// target. A target whose settings change on a reload starts its counters
// again from zero.
func (n *Notifier) Collect(ch chan<- prometheus.Metric) {
	n.mu.Lock()
	targets := append([]*target(nil), n.targets...)
	n.mu.Unlock()
	for _, t := range targets {
		name := t.cfg.Name
		ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, float64(t.sent.Load()), name)
		ch <- prometheus.MustNewConstMetric(ackedDesc, prometheus.CounterValue, float64(t.acked.Load()), name)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, float64(t.failed.Load()), name)
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(t.dropped.Load()), name)
		ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(t.retried.Load()), name)
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(len(t.queue)), name)
		ch <- prometheus.MustNewConstMetric(capacityDesc, prometheus.GaugeValue, float64(cap(t.queue)), name)
	}
}

// TargetStats are one target's counters, for tests and status pages.
type TargetStats struct {
	Sent, Acked, Failed, Dropped, Retries uint64
	Queued                                int
}

// Stats returns the counters of the target named name; ok is false when
// there is none.
func (n *Notifier) Stats(name string) (s TargetStats, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.targets {
		if t.cfg.Name == name {
			return TargetStats{Sent: t.sent.Load(), Acked: t.acked.Load(), Failed: t.failed.Load(), Dropped: t.dropped.Load(),
				Retries: t.retried.Load(), Queued: len(t.queue)}, true
		}
	}
	return TargetStats{}, false
}

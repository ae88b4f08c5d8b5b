// Package notify sends SNMP notifications (traps and informs, v2c and v3)
// about what lvs-sidecar sees and does: real servers changing state
// (health.Scheduler events), the controller's writes and panic changes
// (actuator.Options.OnAction), failed configuration reloads, and the
// sidecar starting and stopping.
//
// A Notifier fans every notification out to its targets. Each target has
// a bounded queue, one goroutine and one gosnmp.GoSNMP of its own (a
// GoSNMP is not safe for concurrent use). Publishing never blocks: when a
// target's queue is full the notification is dropped for that target,
// counted in ipvs_notify_dropped_total and logged once per episode (until
// the queue has drained). So a receiver that is down or slow costs memory
// bounded by queue_size and nothing else: checks and the controller go on.
//
// Targets follow LVS-SIDECAR-MIB (mib/LVS-SIDECAR-MIB.txt) or, in
// keepalived mode, send KEEPALIVED-MIB's realServerStateChange and
// virtualServerQuorumStateChange exactly as keepalived does.
package notify

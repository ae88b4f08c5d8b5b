package notify

import (
	"fmt"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/mib"
)

// eventOID is the NOTIFICATION-TYPE of each event in LVS-SIDECAR-MIB.
var eventOID = map[Event]string{
	EventStateChange:     mib.RealServerStateChange,
	EventRealServerWrite: mib.RealServerAction,
	EventServiceWrite:    mib.ServiceAction,
	EventPanic:           mib.ServicePanic,
	EventPanicCleared:    mib.ServicePanicCleared,
	EventFailOpen:        mib.ServiceFailOpen,
	EventFailOpenCleared: mib.ServiceFailOpenClear,
	EventReloadFailed:    mib.ConfigReloadFailed,
	EventStart:           mib.SidecarStart,
	EventStop:            mib.SidecarStop,
}

var actionValue = map[actuator.ActionKind]int{
	actuator.ActionCreateService: mib.ActionCreateService,
	actuator.ActionUpdateService: mib.ActionUpdateService,
	actuator.ActionCreate:        mib.ActionCreate,
	actuator.ActionRestore:       mib.ActionRestore,
	actuator.ActionRemove:        mib.ActionRemove,
	actuator.ActionUpdateWeight:  mib.ActionUpdateWeight,
	actuator.ActionUpdate:        mib.ActionUpdate,
}

func stateValue(s health.State) int {
	switch s {
	case health.StateUp:
		return mib.StateUp
	case health.StateDown:
		return mib.StateDown
	}
	return mib.StateUnknown
}

// header returns sysUpTime.0 and snmpTrapOID.0, the first two varbinds of
// every SNMPv2 notification.
func header(uptime uint32, trapOID string) []gosnmp.SnmpPDU {
	return []gosnmp.SnmpPDU{
		{Name: "." + mib.SysUpTime, Type: gosnmp.TimeTicks, Value: uptime},
		{Name: "." + mib.SnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: "." + trapOID},
	}
}

// sidecarVarbinds returns the varbinds of n in LVS-SIDECAR-MIB: the
// header, then the notification's OBJECTS in the MIB's order.
func sidecarVarbinds(n *Notification, director string, uptime uint32) ([]gosnmp.SnmpPDU, error) {
	oid, ok := eventOID[n.Event]
	if !ok {
		return nil, fmt.Errorf("no notification for event %d", n.Event)
	}
	pdus := header(uptime, oid)
	for _, obj := range mib.NotificationObjects[oid] {
		pdu, err := objectValue(obj, n, director)
		if err != nil {
			return nil, err
		}
		pdus = append(pdus, pdu)
	}
	return pdus, nil
}

// objectValue returns the varbind of one notification object.
func objectValue(obj string, n *Notification, director string) (gosnmp.SnmpPDU, error) {
	text := func(s string, max int) gosnmp.SnmpPDU {
		if len(s) > max {
			s = s[:max]
		}
		return gosnmp.SnmpPDU{Name: "." + obj, Type: gosnmp.OctetString, Value: []byte(s)}
	}
	integer := func(v int) gosnmp.SnmpPDU { return gosnmp.SnmpPDU{Name: "." + obj, Type: gosnmp.Integer, Value: v} }
	unsigned := func(v int) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: "." + obj, Type: gosnmp.Gauge32, Value: uint(max(v, 0))}
	}
	switch obj {
	case mib.NotifyDirector:
		return text(director, 255), nil
	case mib.NotifyServiceKey:
		return text(n.Service, 255), nil
	case mib.NotifyServiceName:
		return text(n.Name, 255), nil
	case mib.NotifyServer:
		return text(n.Server, 255), nil
	case mib.NotifyOldState:
		return integer(stateValue(n.OldState)), nil
	case mib.NotifyNewState:
		return integer(stateValue(n.NewState)), nil
	case mib.NotifyCheck:
		return text(n.Check, 255), nil
	case mib.NotifyCheckResult:
		return text(n.CheckResult, 64), nil
	case mib.NotifyReason:
		return text(n.Reason, 255), nil
	case mib.NotifyAction:
		v, ok := actionValue[n.Action]
		if !ok {
			return gosnmp.SnmpPDU{}, fmt.Errorf("no lsNotifyAction value for action %q", n.Action)
		}
		return integer(v), nil
	case mib.NotifyOldWeight:
		return integer(n.OldWeight), nil
	case mib.NotifyNewWeight:
		return integer(n.NewWeight), nil
	case mib.NotifyDrift:
		if n.Drift {
			return integer(mib.True), nil
		}
		return integer(mib.False), nil
	case mib.NotifyCapacityUp:
		return unsigned(n.CapacityUp), nil
	case mib.NotifyCapacityJudged:
		return unsigned(n.CapacityJudged), nil
	case mib.NotifyCapacityPct:
		return unsigned(min(int(n.CapacityPercent), 100)), nil
	case mib.NotifyPanicThreshold:
		return unsigned(min(int(n.PanicThreshold), 100)), nil
	case mib.NotifyMessage:
		return text(n.Message, 255), nil
	}
	return gosnmp.SnmpPDU{}, fmt.Errorf("no value for notification object %s", obj)
}

package mib

// The notifications of LVS-SIDECAR-MIB (lvsSidecarNotifications, Root.0).
const (
	RealServerStateChange = Notifications + ".1"  // lsRealServerStateChange
	RealServerAction      = Notifications + ".2"  // lsRealServerAction
	ServiceAction         = Notifications + ".3"  // lsServiceAction
	ServicePanic          = Notifications + ".4"  // lsServicePanic
	ServicePanicCleared   = Notifications + ".5"  // lsServicePanicCleared
	ServiceFailOpen       = Notifications + ".6"  // lsServiceFailOpen
	ServiceFailOpenClear  = Notifications + ".7"  // lsServiceFailOpenCleared
	ConfigReloadFailed    = Notifications + ".8"  // lsConfigReloadFailed
	SidecarStart          = Notifications + ".9"  // lsSidecarStart
	SidecarStop           = Notifications + ".10" // lsSidecarStop
)

// The accessible-for-notify objects the notifications carry
// (lsNotifyObjects, Root.1.1). They are scalars sent without an instance
// suffix, as NOTIFICATION-TYPE objects are.
const (
	NotifyDirector       = NotifyObjects + ".1"  // lsNotifyDirector, DisplayString
	NotifyServiceKey     = NotifyObjects + ".2"  // lsNotifyServiceKey, DisplayString
	NotifyServiceName    = NotifyObjects + ".3"  // lsNotifyServiceName, DisplayString
	NotifyServer         = NotifyObjects + ".4"  // lsNotifyServer, DisplayString
	NotifyOldState       = NotifyObjects + ".5"  // lsNotifyOldState, INTEGER (State*)
	NotifyNewState       = NotifyObjects + ".6"  // lsNotifyNewState, INTEGER (State*)
	NotifyCheck          = NotifyObjects + ".7"  // lsNotifyCheck, DisplayString
	NotifyCheckResult    = NotifyObjects + ".8"  // lsNotifyCheckResult, DisplayString
	NotifyReason         = NotifyObjects + ".9"  // lsNotifyReason, DisplayString
	NotifyAction         = NotifyObjects + ".10" // lsNotifyAction, INTEGER (Action*)
	NotifyOldWeight      = NotifyObjects + ".11" // lsNotifyOldWeight, Integer32
	NotifyNewWeight      = NotifyObjects + ".12" // lsNotifyNewWeight, Integer32
	NotifyDrift          = NotifyObjects + ".13" // lsNotifyDrift, TruthValue
	NotifyCapacityUp     = NotifyObjects + ".14" // lsNotifyCapacityUp, Unsigned32
	NotifyCapacityJudged = NotifyObjects + ".15" // lsNotifyCapacityJudged, Unsigned32
	NotifyCapacityPct    = NotifyObjects + ".16" // lsNotifyCapacityPercent, Unsigned32
	NotifyPanicThreshold = NotifyObjects + ".17" // lsNotifyPanicThreshold, Unsigned32
	NotifyMessage        = NotifyObjects + ".18" // lsNotifyMessage, DisplayString
)

// Values of lsNotifyOldState and lsNotifyNewState.
const (
	StateUnknown = 1
	StateUp      = 2
	StateDown    = 3
)

// Values of lsNotifyAction.
const (
	ActionCreateService = 1
	ActionUpdateService = 2
	ActionCreate        = 3
	ActionRestore       = 4
	ActionRemove        = 5
	ActionUpdateWeight  = 6
	ActionUpdate        = 7
)

// TruthValue (SNMPv2-TC).
const (
	True  = 1
	False = 2
)

// Names maps every identifier of LVS-SIDECAR-MIB that the Go code uses to
// its descriptor in the MIB file; a test checks the file agrees.
var Names = map[string]string{
	Root:                  "lvsSidecarMIB",
	Notifications:         "lvsSidecarNotifications",
	Objects:               "lvsSidecarObjects",
	NotifyObjects:         "lsNotifyObjects",
	Conformance:           "lvsSidecarConformance",
	ConformanceGroups:     "lsGroups",
	Compliances:           "lsCompliances",
	RealServerStateChange: "lsRealServerStateChange",
	RealServerAction:      "lsRealServerAction",
	ServiceAction:         "lsServiceAction",
	ServicePanic:          "lsServicePanic",
	ServicePanicCleared:   "lsServicePanicCleared",
	ServiceFailOpen:       "lsServiceFailOpen",
	ServiceFailOpenClear:  "lsServiceFailOpenCleared",
	ConfigReloadFailed:    "lsConfigReloadFailed",
	SidecarStart:          "lsSidecarStart",
	SidecarStop:           "lsSidecarStop",
	NotifyDirector:        "lsNotifyDirector",
	NotifyServiceKey:      "lsNotifyServiceKey",
	NotifyServiceName:     "lsNotifyServiceName",
	NotifyServer:          "lsNotifyServer",
	NotifyOldState:        "lsNotifyOldState",
	NotifyNewState:        "lsNotifyNewState",
	NotifyCheck:           "lsNotifyCheck",
	NotifyCheckResult:     "lsNotifyCheckResult",
	NotifyReason:          "lsNotifyReason",
	NotifyAction:          "lsNotifyAction",
	NotifyOldWeight:       "lsNotifyOldWeight",
	NotifyNewWeight:       "lsNotifyNewWeight",
	NotifyDrift:           "lsNotifyDrift",
	NotifyCapacityUp:      "lsNotifyCapacityUp",
	NotifyCapacityJudged:  "lsNotifyCapacityJudged",
	NotifyCapacityPct:     "lsNotifyCapacityPercent",
	NotifyPanicThreshold:  "lsNotifyPanicThreshold",
	NotifyMessage:         "lsNotifyMessage",
}

// NotificationObjects lists, for each notification, the objects of its
// OBJECTS clause in order: the varbinds after sysUpTime and snmpTrapOID.
var NotificationObjects = map[string][]string{
	RealServerStateChange: {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyServer, NotifyOldState, NotifyNewState, NotifyCheck, NotifyCheckResult, NotifyReason},
	RealServerAction:      {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyServer, NotifyAction, NotifyOldWeight, NotifyNewWeight, NotifyReason, NotifyDrift},
	ServiceAction:         {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyAction, NotifyDrift},
	ServicePanic:          {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyCapacityUp, NotifyCapacityJudged, NotifyCapacityPct, NotifyPanicThreshold},
	ServicePanicCleared:   {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyCapacityUp, NotifyCapacityJudged, NotifyCapacityPct, NotifyPanicThreshold},
	ServiceFailOpen:       {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyCapacityUp, NotifyCapacityJudged, NotifyCapacityPct},
	ServiceFailOpenClear:  {NotifyDirector, NotifyServiceKey, NotifyServiceName, NotifyCapacityUp, NotifyCapacityJudged, NotifyCapacityPct},
	ConfigReloadFailed:    {NotifyDirector, NotifyMessage},
	SidecarStart:          {NotifyDirector, NotifyMessage},
	SidecarStop:           {NotifyDirector},
}

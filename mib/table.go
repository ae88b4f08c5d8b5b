package mib

// The poller tables of LVS-SIDECAR-MIB (the TABLES part of
// mib/LVS-SIDECAR-MIB.txt), served through snmpd by
// `lvs-sidecar snmp-pass-persist`. A cell is COLUMN.INDEX: a service's
// columns are indexed by lvsServiceIndex, a real server's by
// lvsServiceIndex.lvsRealServerIndex, a scalar by .0.

// lvsServiceTable (Root.1.2) and its entry, one row per virtual service.
const (
	ServiceEntry = ServiceTable + ".1"

	ServiceKey           = ServiceEntry + ".2"
	ServiceName          = ServiceEntry + ".3"
	ServiceDeclared      = ServiceEntry + ".4"
	ServiceInTable       = ServiceEntry + ".5"
	ServiceProtocol      = ServiceEntry + ".6"
	ServiceAddressType   = ServiceEntry + ".7"
	ServiceAddress       = ServiceEntry + ".8"
	ServicePort          = ServiceEntry + ".9"
	ServiceFwmark        = ServiceEntry + ".10"
	ServiceScheduler     = ServiceEntry + ".11"
	ServiceRealServersUp = ServiceEntry + ".12"
	ServiceRealServers   = ServiceEntry + ".13"
	ServiceInPanic       = ServiceEntry + ".14"
	ServiceConnections   = ServiceEntry + ".15"
	ServicePacketsIn     = ServiceEntry + ".16"
	ServicePacketsOut    = ServiceEntry + ".17"
	ServiceBytesIn       = ServiceEntry + ".18"
	ServiceBytesOut      = ServiceEntry + ".19"
)

// lvsRealServerTable (Root.1.3) and its entry, one row per real server
// of a service.
const (
	RealServerEntry = RealServerTable + ".1"

	RealServerAddressType    = RealServerEntry + ".2"
	RealServerAddress        = RealServerEntry + ".3"
	RealServerPort           = RealServerEntry + ".4"
	RealServerDeclared       = RealServerEntry + ".5"
	RealServerInTable        = RealServerEntry + ".6"
	RealServerVerdict        = RealServerEntry + ".7"
	RealServerState          = RealServerEntry + ".8"
	RealServerMaintenance    = RealServerEntry + ".9"
	RealServerWeightDeclared = RealServerEntry + ".10"
	RealServerWeightDesired  = RealServerEntry + ".11"
	RealServerWeightKernel   = RealServerEntry + ".12"
	RealServerActiveConns    = RealServerEntry + ".13"
	RealServerInactiveConns  = RealServerEntry + ".14"
	RealServerPersistConns   = RealServerEntry + ".15"
	RealServerConnections    = RealServerEntry + ".16"
	RealServerPacketsIn      = RealServerEntry + ".17"
	RealServerPacketsOut     = RealServerEntry + ".18"
	RealServerBytesIn        = RealServerEntry + ".19"
	RealServerBytesOut       = RealServerEntry + ".20"
)

// The scalars about the sidecar itself (Root.1.4); their instances are
// NAME.0.
const (
	SidecarVersion           = SidecarObjects + ".1"
	SidecarIpvsReadable      = SidecarObjects + ".2"
	SidecarControllerMode    = SidecarObjects + ".3"
	SidecarReconcilePasses   = SidecarObjects + ".4"
	SidecarLastReconcileTime = SidecarObjects + ".5"
	SidecarLastReconcileOK   = SidecarObjects + ".6"
	SidecarReadyForActing    = SidecarObjects + ".7"
	SidecarServices          = SidecarObjects + ".8"
	SidecarRealServers       = SidecarObjects + ".9"
)

// The conformance of the tables part: .10, clear of the low numbers the
// notifications part takes.
const (
	TablesGroup      = ConformanceGroups + ".10"
	TablesCompliance = Compliances + ".10"
)

// TableNames maps each object of the tables part to its OID, for the test
// that mib/LVS-SIDECAR-MIB.txt says the same.
var TableNames = map[string]string{
	"lvsServiceTable": ServiceTable, "lvsServiceEntry": ServiceEntry,
	"lvsServiceKey": ServiceKey, "lvsServiceName": ServiceName, "lvsServiceDeclared": ServiceDeclared,
	"lvsServiceInTable": ServiceInTable, "lvsServiceProtocol": ServiceProtocol, "lvsServiceAddressType": ServiceAddressType,
	"lvsServiceAddress": ServiceAddress, "lvsServicePort": ServicePort, "lvsServiceFwmark": ServiceFwmark,
	"lvsServiceScheduler": ServiceScheduler, "lvsServiceRealServersUp": ServiceRealServersUp,
	"lvsServiceRealServers": ServiceRealServers, "lvsServicePanic": ServiceInPanic,
	"lvsServiceConnections": ServiceConnections, "lvsServicePacketsIn": ServicePacketsIn,
	"lvsServicePacketsOut": ServicePacketsOut, "lvsServiceBytesIn": ServiceBytesIn, "lvsServiceBytesOut": ServiceBytesOut,

	"lvsRealServerTable": RealServerTable, "lvsRealServerEntry": RealServerEntry,
	"lvsRealServerAddressType": RealServerAddressType, "lvsRealServerAddress": RealServerAddress,
	"lvsRealServerPort": RealServerPort, "lvsRealServerDeclared": RealServerDeclared, "lvsRealServerInTable": RealServerInTable,
	"lvsRealServerVerdict": RealServerVerdict, "lvsRealServerState": RealServerState,
	"lvsRealServerMaintenance": RealServerMaintenance, "lvsRealServerWeightDeclared": RealServerWeightDeclared,
	"lvsRealServerWeightDesired": RealServerWeightDesired, "lvsRealServerWeightKernel": RealServerWeightKernel,
	"lvsRealServerActiveConns": RealServerActiveConns, "lvsRealServerInactiveConns": RealServerInactiveConns,
	"lvsRealServerPersistConns": RealServerPersistConns, "lvsRealServerConnections": RealServerConnections,
	"lvsRealServerPacketsIn": RealServerPacketsIn, "lvsRealServerPacketsOut": RealServerPacketsOut,
	"lvsRealServerBytesIn": RealServerBytesIn, "lvsRealServerBytesOut": RealServerBytesOut,

	"lvsSidecarVersion": SidecarVersion, "lvsSidecarIpvsReadable": SidecarIpvsReadable,
	"lvsSidecarControllerMode": SidecarControllerMode, "lvsSidecarReconcilePasses": SidecarReconcilePasses,
	"lvsSidecarLastReconcileTime": SidecarLastReconcileTime, "lvsSidecarLastReconcileOK": SidecarLastReconcileOK,
	"lvsSidecarReadyForActing": SidecarReadyForActing, "lvsSidecarServices": SidecarServices,
	"lvsSidecarRealServers": SidecarRealServers,

	"lvsSidecarTablesGroup": TablesGroup, "lvsSidecarTablesCompliance": TablesCompliance,
}

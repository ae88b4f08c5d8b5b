// Package actuator turns health verdicts into the kernel's IPVS table: a
// level-triggered controller that, for every real server the
// configuration declares, computes the state it wants (declared weight ×
// health verdict × maintenance × slow-start ramp, fail-open in panic),
// reads the table, and applies the smallest set of writes that gets there.
//
// It runs every period and at once on every trigger (a maintenance
// change, a reload); triggers that come while a pass runs make one more
// pass. A verdict change is written at once for its real server alone,
// with the pass's own rules, from the table as the last pass left it
// (targeted.go); whatever that cannot decide alone goes to a full pass,
// and a full pass follows every targeted write soon. It never touches a service the configuration does
// not declare, nor a destination a declared service has but the
// configuration does not list, and it changes nothing for a real server
// until that server has its first verdict, so a start or a restart does
// not flap the table. On exit it leaves the table as it is.
//
// Beside the Controller: Runner runs it for the life of a process (a
// mode that overrides the configuration's, start and stop), Maintenance
// is the store of real servers an operator put into maintenance, and
// Resolver turns the names an operator gives a real server into the
// labels the store and the metrics use.
package actuator

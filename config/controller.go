package config

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Controller configures the controller that turns verdicts into the kernel
// table's weights (the top-level controller section).
type Controller struct {
	// Mode says whether the controller writes the table.
	Mode ControllerMode
	// Period is how often the controller reconciles the table with what it
	// wants even when nothing triggers it (a verdict or maintenance change,
	// a reload); it bounds how long a hand-made change (drift) stays.
	Period time.Duration
}

// ControllerMode says what the controller may write.
type ControllerMode uint8

// Controller modes. The zero value is managed: declaring a service in the
// file hands it to lvs-sidecar, as a virtual_server block does to
// keepalived.
const (
	// ControllerManaged: the controller writes what it wants (drain,
	// remove, restore, slow start, creating declared services and real
	// servers) and restores a managed real server changed by hand.
	ControllerManaged ControllerMode = iota
	// ControllerObserve: the controller writes when what it wants changes
	// (a verdict, maintenance, slow start, panic, a reload), but a real
	// server changed by hand is only reported, not restored, until what
	// the controller wants for it changes again.
	ControllerObserve
	// ControllerDryRun: the controller computes, logs and exports what it
	// would write, and writes nothing.
	ControllerDryRun
)

// controllerModeNames are the config spellings, in constant order.
var controllerModeNames = []string{"managed", "observe", "dry_run"}

// String returns the config spelling: managed, observe or dry_run.
func (m ControllerMode) String() string {
	if int(m) < len(controllerModeNames) {
		return controllerModeNames[m]
	}
	return "mode(" + strconv.FormatUint(uint64(m), 10) + ")"
}

// ParseControllerMode returns the mode a config spelling names (for a
// command-line flag that overrides the file); ok is false for anything
// else.
func ParseControllerMode(s string) (m ControllerMode, ok bool) {
	for i, name := range controllerModeNames {
		if s == name {
			return ControllerMode(i), true
		}
	}
	return 0, false
}

// ControllerModeNames returns the spellings of the modes, for flag help.
func ControllerModeNames() []string {
	return append([]string(nil), controllerModeNames...)
}

// DefaultControllerPeriod is how often the controller reconciles when the
// file does not say.
const DefaultControllerPeriod = 5 * time.Second

// minControllerPeriod keeps the controller from re-reading the table in a
// busy loop.
const minControllerPeriod = 100 * time.Millisecond

var controllerKeys = []string{"mode", "period"}

func builtinController() Controller {
	return Controller{Mode: ControllerManaged, Period: DefaultControllerPeriod}
}

// controller decodes the controller section.
func (d *decoder) controller(n *yaml.Node) Controller {
	c := builtinController()
	m, _ := d.mapping(n, "controller", controllerKeys)
	if e, ok := m["mode"]; ok {
		if i, ok := d.oneOf(e.val, "controller.mode", controllerModeNames); ok {
			c.Mode = ControllerMode(i)
		}
	}
	if e, ok := m["period"]; ok {
		if v, ok := d.duration(e.val, "controller.period"); ok {
			if v < minControllerPeriod {
				d.errorf(e.val, "controller.period", "must be at least %s, got %s", minControllerPeriod, v)
			} else {
				c.Period = v
			}
		}
	}
	return c
}

package config

import (
	"testing"
	"time"
)

// TestControllerSection checks the controller keys land in the model, and
// the defaults when the section or a key is absent.
func TestControllerSection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       Controller
	}{
		{"absent", `services: [{name: w, address: 192.0.2.1:80}]`, Controller{ControllerManaged, 5 * time.Second}},
		{"empty", "services: [{name: w, address: 192.0.2.1:80}]\ncontroller:\n", Controller{ControllerManaged, 5 * time.Second}},
		{"observe", `{services: [{name: w, address: 192.0.2.1:80}], controller: {mode: observe}}`, Controller{ControllerObserve, 5 * time.Second}},
		{"dry run", `{services: [{name: w, address: 192.0.2.1:80}], controller: {mode: dry_run, period: 1m}}`, Controller{ControllerDryRun, time.Minute}},
		{"managed", `{services: [{name: w, address: 192.0.2.1:80}], controller: {mode: managed, period: 100ms}}`, Controller{ControllerManaged, 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if c.Controller != tc.want {
				t.Errorf("controller %+v, want %+v", c.Controller, tc.want)
			}
		})
	}
}

// TestControllerModeNames checks the spellings parse back to their modes.
func TestControllerModeNames(t *testing.T) {
	names := ControllerModeNames()
	if len(names) != 3 {
		t.Fatalf("modes %v", names)
	}
	for i, name := range names {
		m, ok := ParseControllerMode(name)
		if !ok || m != ControllerMode(i) || m.String() != name {
			t.Errorf("%q: mode %d ok %v, String %q", name, m, ok, m.String())
		}
	}
	if _, ok := ParseControllerMode("dry-run"); ok {
		t.Error("dry-run accepted")
	}
	if s := ControllerMode(7).String(); s != "mode(7)" {
		t.Errorf("unknown mode renders %q", s)
	}
}

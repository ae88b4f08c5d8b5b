package actuator

import (
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// The fakes of this package's tests, for those of package actuator_test:
// they import packages that import this one (notify), so they cannot be
// in package actuator.

// FakeTable is the tests' in-memory IPVS table.
type FakeTable = fakeTable

// NewFakeTable returns a FakeTable holding services.
func NewFakeTable(services ...ipvs.Service) *FakeTable { return newFakeTable(services...) }

// TakeWrites returns the writes recorded since the last call.
func (f *fakeTable) TakeWrites() []string { return f.takeWrites() }

// FakeVerdicts is the tests' VerdictSource.
type FakeVerdicts = fakeVerdicts

// NewFakeVerdicts returns a FakeVerdicts with no real server.
func NewFakeVerdicts() *FakeVerdicts { return newFakeVerdicts() }

// Set changes a real server's verdict (an hour after the change before)
// and tells the subscribers.
func (v *fakeVerdicts) Set(service, server string, state health.State) { v.set(service, server, state) }

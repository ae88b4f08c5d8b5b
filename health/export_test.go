package health

// RunsPending returns how many launched runs have not ended: their Check
// has not returned, or its result is not recorded and the check not yet
// free to run again. For the tests of package health_test (which import
// packages that import this one, such as notify): they move a FakeClock
// only once it is 0, so that no run is skipped for being still on its
// way when its next one falls due.
func (s *Scheduler) RunsPending() int64 { return s.pending.Load() }

// FireCoalesce is how early a run may start to share a wake-up
// (fireCoalesce), for the timing tests of package health_test.
const FireCoalesce = fireCoalesce

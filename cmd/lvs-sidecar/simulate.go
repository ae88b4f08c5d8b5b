package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/alecthomas/kingpin/v2"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs/simtable"
)

// simulateOptions are --ipvs.simulate and the flags that go with it: the
// IPVS table in memory (ipvs/simtable) instead of the kernel's, for
// trying a configuration and the dashboards where there is no IPVS, for
// demos and for tests.
type simulateOptions struct {
	enabled bool
	seed    string
	rate    float64

	// rateText and the set flags are the flags as given, for check.
	rateText         string
	seedSet, rateSet bool
}

// addSimulateFlags adds --ipvs.simulate, --ipvs.simulate.seed and
// --ipvs.simulate.rate to app.
func addSimulateFlags(app *kingpin.Application, s *simulateOptions) {
	app.Flag("ipvs.simulate", "Use an IPVS table in memory instead of the kernel's: nothing is read from or written to the kernel, the collector, the controller and the services view all use it, and its counters move with simulated traffic. For trying a configuration and the dashboards without IPVS, demos and tests; not with --ipvs.netns.").
		BoolVar(&s.enabled)
	app.Flag("ipvs.simulate.seed", "With --ipvs.simulate: file of ipvsadm -S -n rules the simulated table starts with. Empty: it starts empty (the controller creates the services of --config.file).").
		PlaceHolder("FILE").IsSetByUser(&s.seedSet).StringVar(&s.seed)
	// Parsed in check rather than with Float64Var: kingpin's error does not
	// name the flag.
	app.Flag("ipvs.simulate.rate", "With --ipvs.simulate: new connections per second each virtual service gets, shared by its real servers in proportion to their weights; 0: no traffic.").
		Default(strconv.Itoa(simtable.DefaultRate)).IsSetByUser(&s.rateSet).StringVar(&s.rateText)
}

// check validates the flags once parsed. Without --ipvs.simulate, its
// other flags are an error rather than ignored: a director started with a
// seed but no --ipvs.simulate would write to the kernel's table.
func (s *simulateOptions) check(netns string) error {
	if !s.enabled {
		switch {
		case s.seedSet:
			return errors.New("--ipvs.simulate.seed needs --ipvs.simulate (without it the kernel's IPVS table is read and written)")
		case s.rateSet:
			return errors.New("--ipvs.simulate.rate needs --ipvs.simulate (without it the kernel's IPVS table is read and written)")
		}
		return nil
	}
	if netns != "" {
		return errors.New("--ipvs.simulate and --ipvs.netns cannot be combined: the simulated table is in memory, in no network namespace; drop one of them")
	}
	rate, err := strconv.ParseFloat(s.rateText, 64)
	if err != nil || rate < 0 {
		return fmt.Errorf("--ipvs.simulate.rate: %q is not a number of connections per second, 0 or more", s.rateText)
	}
	s.rate = rate
	return nil
}

// openTable returns what reads the IPVS table, and how to close it: the
// kernel's (an ipvs.Reader in the namespace of --ipvs.netns) or, with
// --ipvs.simulate, the simulated table, which it also puts in o.sim for
// the controller to write.
func openTable(o *options, logger *slog.Logger) (tableReader, func(), error) {
	if !o.simulate.enabled {
		reader, err := ipvs.NewReader(ipvs.ReaderOptions{Namespace: o.ns, Timeout: o.ipvsTimeout})
		if err != nil {
			return nil, nil, err
		}
		return reader, func() { _ = reader.Close() }, nil
	}
	sim, err := openSimulation(o.simulate, logger)
	if err != nil {
		return nil, nil, err
	}
	o.sim = sim
	return sim, func() {}, nil
}

// openSimulation opens the simulated table of --ipvs.simulate, seeded from
// --ipvs.simulate.seed, and says so in a warning: nothing this process
// does reaches the kernel.
func openSimulation(s simulateOptions, logger *slog.Logger) (*simtable.Table, error) {
	var seed []ipvs.Service
	if s.seed != "" {
		f, err := os.Open(s.seed)
		if err != nil {
			return nil, fmt.Errorf("--ipvs.simulate.seed: %w", err)
		}
		defer f.Close()
		if seed, err = config.ParseIpvsadm(f, s.seed); err != nil {
			var list config.Errors
			if !errors.As(err, &list) {
				return nil, fmt.Errorf("--ipvs.simulate.seed: %w", err)
			}
			for _, e := range list {
				logger.Error("invalid ipvsadm rules", "problem", e.Error())
			}
			return nil, fmt.Errorf("--ipvs.simulate.seed %s is invalid (%s)", s.seed, plural(len(list), "problem"))
		}
	}
	table, err := simtable.New(seed, simtable.Options{Rate: s.rate})
	if err != nil {
		return nil, fmt.Errorf("--ipvs.simulate.seed %s: %w", s.seed, err)
	}
	servers := 0
	for i := range seed {
		servers += len(seed[i].Destinations)
	}
	seedName := s.seed
	if seedName == "" {
		seedName = "none (empty table)"
	}
	logger.Warn("the IPVS table is simulated in memory (--ipvs.simulate): nothing is read from or written to the kernel's table",
		"seed", seedName, "services", len(seed), "real_servers", servers, "connections_per_second_per_service", s.rate)
	return table, nil
}

// simWriter is the simulated table as the controller's writer, whose
// Close has nothing to close: the table is also what everything reads.
type simWriter struct{ *simtable.Table }

// Close implements closeWriter.
func (simWriter) Close() error { return nil }

package load

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/snmp/credentials"
)

// client reads one real server's load. It is used by one goroutine only:
// the worker that owns it.
type client interface {
	// poll returns the load, in the unit of the configuration's start and
	// full, within ctx's deadline.
	poll(ctx context.Context) (float64, error)
	close()
}

// dialer opens the client of a target; do runs the socket's creation
// (nil: in the process's own network namespace).
type dialer func(addr netip.Addr, l *config.LoadWeight, do func(fn func() error) error) (client, error)

// snmpClient polls with one gosnmp.GoSNMP, which is not safe for
// concurrent use and is never shared.
type snmpClient struct {
	g   *gosnmp.GoSNMP
	cfg *config.LoadWeight
}

// dialSNMP opens the UDP socket of a target (inside do, so that it
// belongs to the checks' network namespace).
func dialSNMP(addr netip.Addr, l *config.LoadWeight, do func(fn func() error) error) (client, error) {
	g := &gosnmp.GoSNMP{
		Target:             addr.String(),
		Port:               l.Port,
		Transport:          "udp",
		Timeout:            l.Timeout,
		Retries:            0,
		MaxRepetitions:     32,
		ExponentialTimeout: false,
		Context:            context.Background(),
	}
	if _, err := credentials.Apply(g, &l.SNMP); err != nil {
		return nil, err
	}
	connect := g.Connect
	if do != nil {
		connect = func() error { return do(g.Connect) }
	}
	if err := connect(); err != nil {
		return nil, fmt.Errorf("open the SNMP socket to %s: %w", netip.AddrPortFrom(addr, l.Port), err)
	}
	return &snmpClient{g: g, cfg: l}, nil
}

// poll reads the load once: a Get of the OID, or the walk of
// hrProcessorLoad and the average of its rows.
func (c *snmpClient) poll(ctx context.Context) (float64, error) {
	c.g.Context = ctx
	defer func() { c.g.Context = context.Background() }()
	if c.cfg.Source == config.LoadHRProcessor {
		pdus, err := c.g.BulkWalkAll(c.cfg.OID)
		if err != nil {
			return 0, fmt.Errorf("walk hrProcessorLoad (%s): %w", c.cfg.OID, c.scrub(err))
		}
		sum, n := 0.0, 0
		for _, p := range pdus {
			v, err := number(p)
			if err != nil {
				return 0, fmt.Errorf("hrProcessorLoad %s: %w", strings.TrimPrefix(p.Name, "."), err)
			}
			sum += v
			n++
		}
		if n == 0 {
			return 0, errors.New("hrProcessorLoad (" + c.cfg.OID + ") has no rows: the agent does not serve HOST-RESOURCES-MIB, or its view hides it")
		}
		return sum / float64(n) * c.cfg.Scale, nil
	}
	pkt, err := c.g.Get([]string{c.cfg.OID})
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", c.cfg.OID, c.scrub(err))
	}
	if pkt.Error != gosnmp.NoError {
		return 0, fmt.Errorf("get %s: the agent answered %s", c.cfg.OID, pkt.Error)
	}
	if len(pkt.Variables) != 1 {
		return 0, fmt.Errorf("get %s: the agent answered %d values, want 1", c.cfg.OID, len(pkt.Variables))
	}
	v, err := number(pkt.Variables[0])
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", c.cfg.OID, err)
	}
	return v * c.cfg.Scale, nil
}

// scrub replaces the secrets of the client's configuration in an error's
// text (gosnmp's errors are not expected to hold them; this makes sure).
func (c *snmpClient) scrub(err error) error {
	msg := err.Error()
	clean := msg
	a := &c.cfg.SNMP
	for _, s := range []config.Secret{a.Community, a.AuthPassphrase, a.PrivPassphrase} {
		if len(s) > 0 {
			clean = strings.ReplaceAll(clean, s.Reveal(), "<secret>")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

func (c *snmpClient) close() { _ = c.g.Close() }

// number reads a value as a number: any integer type, or a string holding
// a decimal number (UCD's laLoad.1 is "0.52").
func number(p gosnmp.SnmpPDU) (float64, error) {
	switch p.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return 0, fmt.Errorf("the agent has no such object (%s): check the OID and the agent's view (snmpd.conf view/rocommunity)", p.Type)
	case gosnmp.Integer, gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Counter64, gosnmp.Uinteger32:
		f, _ := new(big.Float).SetInt(gosnmp.ToBigInt(p.Value)).Float64()
		return f, nil
	case gosnmp.OctetString:
		b, _ := p.Value.([]byte)
		f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			return 0, fmt.Errorf("the agent answered the string %q, not a number", b)
		}
		return f, nil
	}
	return 0, fmt.Errorf("the agent answered a %s, not a number", p.Type)
}

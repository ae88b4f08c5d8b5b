// Package credentials applies the SNMP credentials of the configuration
// (config.SNMPCredentials: a load block's or a notification target's) to
// a gosnmp client: the version, and the community for v2c or the USM user
// at authPriv for v3. It is the one mapping from the configuration's
// protocols to gosnmp's, for the load pollers and the notifier alike.
package credentials

import (
	"fmt"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

var authProtocols = map[config.AuthProtocol]gosnmp.SnmpV3AuthProtocol{
	config.AuthSHA224: gosnmp.SHA224, config.AuthSHA256: gosnmp.SHA256,
	config.AuthSHA384: gosnmp.SHA384, config.AuthSHA512: gosnmp.SHA512,
}

var privProtocols = map[config.PrivProtocol]gosnmp.SnmpV3PrivProtocol{
	config.PrivAES: gosnmp.AES, config.PrivAES192: gosnmp.AES192, config.PrivAES256: gosnmp.AES256,
	config.PrivAES192C: gosnmp.AES192C, config.PrivAES256C: gosnmp.AES256C,
}

// AuthProtocol returns gosnmp's authentication protocol for p, or an
// error for a value that is not one of config.AuthProtocols (which Parse
// never gives).
func AuthProtocol(p config.AuthProtocol) (gosnmp.SnmpV3AuthProtocol, error) {
	if g, ok := authProtocols[p]; ok {
		return g, nil
	}
	return 0, fmt.Errorf("SNMPv3 authentication protocol %s is not one the sidecar offers", p)
}

// PrivProtocol returns gosnmp's privacy protocol for p, or an error for
// a value that is not one of config.PrivProtocols.
func PrivProtocol(p config.PrivProtocol) (gosnmp.SnmpV3PrivProtocol, error) {
	if g, ok := privProtocols[p]; ok {
		return g, nil
	}
	return 0, fmt.Errorf("SNMPv3 privacy protocol %s is not one the sidecar offers", p)
}

// Apply sets g's version and credentials from c. For v3 it returns the
// USM parameters it set (g.SecurityParameters), for the caller to add
// what its role needs (a trap sender's engine ID and boots); for v2c it
// returns nil. g is left as it was when c is not a valid combination.
func Apply(g *gosnmp.GoSNMP, c *config.SNMPCredentials) (*gosnmp.UsmSecurityParameters, error) {
	switch c.Version {
	case config.SNMPv2c:
		g.Version = gosnmp.Version2c
		g.Community = c.Community.Reveal()
		return nil, nil
	case config.SNMPv3:
	default:
		return nil, fmt.Errorf("SNMP version %s is not one the sidecar offers", c.Version)
	}
	auth, err := AuthProtocol(c.AuthProtocol)
	if err != nil {
		return nil, err
	}
	priv, err := PrivProtocol(c.PrivProtocol)
	if err != nil {
		return nil, err
	}
	usm := &gosnmp.UsmSecurityParameters{
		UserName:                 c.User,
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: c.AuthPassphrase.Reveal(),
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        c.PrivPassphrase.Reveal(),
	}
	// authPriv, always: the configuration offers no lower level.
	g.Version = gosnmp.Version3
	g.SecurityModel = gosnmp.UserSecurityModel
	g.MsgFlags = gosnmp.AuthPriv
	g.SecurityParameters = usm
	return usm, nil
}

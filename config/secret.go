package config

import (
	"fmt"
	"log/slog"
)

// secretText is what a SecretString shows everywhere but in the configuration
// file Marshal writes.
const secretText = "<secret>"

// SecretString is a community string or SNMPv3 passphrase. It never shows its
// value: String, Format (every fmt verb), MarshalText, MarshalJSON,
// MarshalYAML and LogValue all give "<secret>". Reveal returns the value
// for the code that needs it (the SNMP client, Marshal).
type SecretString struct{ value string }

// NewSecretString wraps s.
func NewSecretString(s string) SecretString { return SecretString{s} }

// Reveal returns the secret's value.
func (s SecretString) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s SecretString) IsZero() bool { return s.value == "" }

// String returns "<secret>".
func (SecretString) String() string { return secretText }

// GoString returns "<secret>".
func (SecretString) GoString() string { return secretText }

// Format writes "<secret>" whatever the verb.
func (SecretString) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(secretText)) }

// MarshalText returns "<secret>".
func (SecretString) MarshalText() ([]byte, error) { return []byte(secretText), nil }

// MarshalJSON returns "<secret>" as a JSON string.
func (SecretString) MarshalJSON() ([]byte, error) { return []byte(`"` + secretText + `"`), nil }

// MarshalYAML returns "<secret>".
func (SecretString) MarshalYAML() (any, error) { return secretText, nil }

// LogValue returns "<secret>" for slog.
func (SecretString) LogValue() slog.Value { return slog.StringValue(secretText) }

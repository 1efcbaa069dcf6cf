package config

import (
	"fmt"
	"log/slog"
)

// Secret is a shared secret or token read from the configuration. It never
// prints: String, Format, MarshalJSON, MarshalText and LogValue all give "***",
// so a secret cannot leak through a log line, an error or the API.
type Secret []byte

const masked = "***"

// String returns "***".
func (s Secret) String() string { return masked }

// GoString returns "***" for %#v.
func (s Secret) GoString() string { return masked }

// Format prints "***" whatever the verb, including %x and %d.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(masked)) }

// MarshalJSON returns the JSON string "***".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + masked + `"`), nil }

// MarshalText returns "***".
func (s Secret) MarshalText() ([]byte, error) { return []byte(masked), nil }

// LogValue makes slog print "***".
func (s Secret) LogValue() slog.Value { return slog.StringValue(masked) }

// Bytes returns the secret itself.
func (s Secret) Bytes() []byte { return []byte(s) }

// Empty reports whether the secret is unset.
func (s Secret) Empty() bool { return len(s) == 0 }

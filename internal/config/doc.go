// Package config decodes the bras configuration file, an INI-like format with
// comments on every line, strictly into typed Go structs.
package config

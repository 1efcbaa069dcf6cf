// Package migrations embeds the PostgreSQL schema migrations that bras migrate applies.
package migrations

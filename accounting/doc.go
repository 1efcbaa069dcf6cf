// Package accounting keeps session and accounting records: interim scheduling, the PostgreSQL store, the durable spool and the billing reports.
package accounting

-- 0001: sessions, accounting records, shared IP pools, authentication outcomes
-- and the FreeRADIUS-compatible radacct / radpostauth views.

-- One row per PPP session, kept current by the accounting records
-- (RFC 2866: Start, Interim-Update, Stop). Counters only ever grow
-- (GREATEST on upsert) so a replayed record never moves them back.
CREATE TABLE sessions (
	id                 bigserial PRIMARY KEY,
	acct_session_id    text        NOT NULL UNIQUE,   -- Acct-Session-Id, RFC 2866 section 5.5
	node               text        NOT NULL,
	nas_ip_address     inet,                          -- NAS-IP-Address, RFC 2865 section 5.4
	username           text        NOT NULL DEFAULT '',
	realm              text        NOT NULL DEFAULT '',
	calling_station_id text        NOT NULL DEFAULT '', -- subscriber MAC
	nas_port_id        text        NOT NULL DEFAULT '', -- NAS-Port-Id, RFC 2869 section 5.17
	circuit_id         text        NOT NULL DEFAULT '', -- access line IDs (TR-101)
	remote_id          text        NOT NULL DEFAULT '',
	lac                text        NOT NULL DEFAULT '', -- LAC host name, RFC 2661 section 4.4.3
	tunnel_id          integer     NOT NULL DEFAULT 0,
	peer_tunnel_id     integer     NOT NULL DEFAULT 0,
	l2tp_session_id    integer     NOT NULL DEFAULT 0,
	peer_session_id    integer     NOT NULL DEFAULT 0,
	framed_ip          inet,
	start_time         timestamptz NOT NULL,
	update_time        timestamptz,
	stop_time          timestamptz,
	terminate_cause    integer,                       -- Acct-Terminate-Cause, RFC 2866 section 5.10
	in_octets          bigint      NOT NULL DEFAULT 0, -- from the subscriber
	out_octets         bigint      NOT NULL DEFAULT 0, -- to the subscriber
	in_packets         bigint      NOT NULL DEFAULT 0,
	out_packets        bigint      NOT NULL DEFAULT 0,
	rate_down_kbps     integer     NOT NULL DEFAULT 0,
	rate_up_kbps       integer     NOT NULL DEFAULT 0,
	interim_interval   integer,                       -- Acct-Interim-Interval, RFC 2869 section 5.16
	class              text[],                        -- Class values in hex, RFC 2865 section 5.25
	last_seq           bigint      NOT NULL DEFAULT 0,
	-- closed by CloseOrphans (NAS-Reboot) rather than by a Stop: a real
	-- Stop replayed later still sets the stop time and cause.
	orphan_closed      boolean     NOT NULL DEFAULT false
) WITH (fillfactor = 70); -- room on the page for HOT updates by interims
CREATE INDEX sessions_active_idx ON sessions (node) WHERE stop_time IS NULL;
CREATE INDEX sessions_user_start_idx ON sessions (username, start_time);
CREATE INDEX sessions_ip_idx ON sessions (framed_ip, start_time);
CREATE INDEX sessions_stop_idx ON sessions (stop_time);

-- Every accounting record exactly once: (acct_session_id, seq) is the key,
-- seq is 0 for Start, 1.. for Interim-Update and the last one for Stop.
-- id is the order of arrival (not indexed: only audits read it).
CREATE TABLE acct_records (
	id               bigserial   NOT NULL,
	acct_session_id  text        NOT NULL,
	seq              bigint      NOT NULL,
	kind             smallint    NOT NULL, -- Acct-Status-Type, RFC 2866 section 5.1: 1 Start, 2 Stop, 3 Interim-Update
	node             text        NOT NULL,
	event_time       timestamptz NOT NULL,
	in_octets        bigint      NOT NULL,
	out_octets       bigint      NOT NULL,
	in_packets       bigint      NOT NULL,
	out_packets      bigint      NOT NULL,
	terminate_cause  integer,
	written_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (acct_session_id, seq)
);

-- Addresses of the pools shared by several LNS nodes. An address is one row,
-- so it can be leased to at most one session; a session holds at most one
-- address per pool.
CREATE TABLE pool_addresses (
	pool        text        NOT NULL,
	addr        inet        PRIMARY KEY,
	session_id  text,
	node        text,
	leased_at   timestamptz,
	released_at timestamptz,
	UNIQUE (pool, session_id)
);
CREATE INDEX pool_addresses_free_idx ON pool_addresses (pool, released_at NULLS FIRST, addr) WHERE session_id IS NULL;

-- Authentication outcomes, like FreeRADIUS's radpostauth.
CREATE TABLE auth_log (
	id                 bigserial   PRIMARY KEY,
	username           text        NOT NULL,
	result             text        NOT NULL, -- Access-Accept, Access-Reject, ...
	reply              text        NOT NULL DEFAULT '',
	node               text        NOT NULL DEFAULT '',
	calling_station_id text        NOT NULL DEFAULT '',
	called_station_id  text        NOT NULL DEFAULT '',
	class              text        NOT NULL DEFAULT '',
	auth_time          timestamptz NOT NULL
);
CREATE INDEX auth_log_user_idx ON auth_log (username, auth_time);

-- RFC 2866 section 5.10 names, as FreeRADIUS writes them into radacct.
CREATE FUNCTION bras_terminate_cause(c integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE c
		WHEN 1 THEN 'User-Request' WHEN 2 THEN 'Lost-Carrier'
		WHEN 3 THEN 'Lost-Service' WHEN 4 THEN 'Idle-Timeout'
		WHEN 5 THEN 'Session-Timeout' WHEN 6 THEN 'Admin-Reset'
		WHEN 7 THEN 'Admin-Reboot' WHEN 8 THEN 'Port-Error'
		WHEN 9 THEN 'NAS-Error' WHEN 10 THEN 'NAS-Request'
		WHEN 11 THEN 'NAS-Reboot' WHEN 12 THEN 'Port-Unneeded'
		WHEN 13 THEN 'Port-Preempted' WHEN 14 THEN 'Port-Suspended'
		WHEN 15 THEN 'Service-Unavailable' WHEN 16 THEN 'Callback'
		WHEN 17 THEN 'User-Error' WHEN 18 THEN 'Host-Request'
		ELSE c::text END
$$;

-- radacct has the columns of FreeRADIUS 3.2's PostgreSQL radacct table
-- (raddb/mods-config/sql/main/postgresql/schema.sql), so the reports of
-- FreeRADIUS and daloRADIUS run unchanged.
CREATE VIEW radacct AS SELECT
	s.id                                  AS radacctid,
	s.acct_session_id                     AS acctsessionid,
	s.acct_session_id                     AS acctuniqueid,
	s.username                            AS username,
	s.realm                               AS realm,
	COALESCE(s.nas_ip_address, '0.0.0.0'::inet) AS nasipaddress,
	s.nas_port_id                         AS nasportid,
	'Virtual'::text                       AS nasporttype,
	s.start_time                          AS acctstarttime,
	s.update_time                         AS acctupdatetime,
	s.stop_time                           AS acctstoptime,
	s.interim_interval::bigint            AS acctinterval,
	(EXTRACT(EPOCH FROM COALESCE(s.stop_time, s.update_time, s.start_time) - s.start_time))::bigint AS acctsessiontime,
	'RADIUS'::text                        AS acctauthentic,
	CASE WHEN s.rate_down_kbps > 0 THEN s.rate_down_kbps || '/' || s.rate_up_kbps END AS connectinfo_start,
	NULL::text                            AS connectinfo_stop,
	s.in_octets                           AS acctinputoctets,
	s.out_octets                          AS acctoutputoctets,
	s.lac                                 AS calledstationid,
	s.calling_station_id                  AS callingstationid,
	COALESCE(bras_terminate_cause(s.terminate_cause), '') AS acctterminatecause,
	'Framed-User'::text                   AS servicetype,
	'PPP'::text                           AS framedprotocol,
	s.framed_ip                           AS framedipaddress,
	NULL::inet                            AS framedipv6address,
	NULL::inet                            AS framedipv6prefix,
	NULL::text                            AS framedinterfaceid,
	NULL::inet                            AS delegatedipv6prefix,
	CASE WHEN s.class IS NOT NULL AND cardinality(s.class) > 0 THEN '0x' || s.class[1] END AS class
FROM sessions s;

CREATE VIEW radpostauth AS SELECT
	a.id                 AS id,
	a.username           AS username,
	NULL::text           AS pass,
	a.result             AS reply,
	a.called_station_id  AS calledstationid,
	a.calling_station_id AS callingstationid,
	a.auth_time          AS authdate,
	a.class              AS class
FROM auth_log a;

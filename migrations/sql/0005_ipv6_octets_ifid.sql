-- 0005: the subscriber's IPv6 interface identifier, and the IPv6 share of
-- a session's traffic next to the totals (which
-- count both families): in_octets - in6_octets is what the subscriber sent
-- over IPv4. RADIUS accounting has no attribute for the split (RFC 2866
-- counts octets of the port), so it lives here, for billing and for the
-- operator's reports. Rows written before this migration count 0 for IPv6.
ALTER TABLE sessions
	ADD COLUMN in6_octets  bigint NOT NULL DEFAULT 0,
	ADD COLUMN out6_octets bigint NOT NULL DEFAULT 0,
	ADD COLUMN in6_packets bigint NOT NULL DEFAULT 0,
	ADD COLUMN out6_packets bigint NOT NULL DEFAULT 0;

ALTER TABLE acct_records
	ADD COLUMN in6_octets  bigint NOT NULL DEFAULT 0,
	ADD COLUMN out6_octets bigint NOT NULL DEFAULT 0,
	ADD COLUMN in6_packets bigint NOT NULL DEFAULT 0,
	ADD COLUMN out6_packets bigint NOT NULL DEFAULT 0;

-- The interface identifier IPV6CP settled for the subscriber
-- (Framed-Interface-Id, RFC 3162 section 2.1), written as FreeRADIUS
-- prints it; radacct fills its framedinterfaceid column with it.
ALTER TABLE sessions ADD COLUMN framed_interface_id text;

CREATE OR REPLACE VIEW radacct AS SELECT
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
	s.framed_ipv6_address                 AS framedipv6address,
	s.framed_ipv6_prefix::inet            AS framedipv6prefix,
	s.framed_interface_id                 AS framedinterfaceid,
	s.delegated_ipv6_prefix::inet         AS delegatedipv6prefix,
	CASE WHEN s.class IS NOT NULL AND cardinality(s.class) > 0 THEN '0x' || s.class[1] END AS class
FROM sessions s;

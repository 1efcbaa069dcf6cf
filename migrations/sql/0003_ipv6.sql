-- 0003: what a dual-stack subscriber got of IPv6: the /64 advertised on
-- its link (Framed-IPv6-Prefix, RFC 3162 section 2.3), the prefix
-- delegated to its router (Delegated-IPv6-Prefix, RFC 4818) and its DHCPv6
-- address (Framed-IPv6-Address, RFC 6911 section 3.1); radacct fills
-- FreeRADIUS's columns for them.
ALTER TABLE sessions
	ADD COLUMN framed_ipv6_prefix    cidr,
	ADD COLUMN delegated_ipv6_prefix cidr,
	ADD COLUMN framed_ipv6_address   inet;

-- Who held an IPv6 address at a time: the prefix containing it (inet's
-- GiST operator class answers >>=, "contains or equals").
CREATE INDEX sessions_ipv6_prefix_idx ON sessions USING gist (framed_ipv6_prefix inet_ops);
CREATE INDEX sessions_delegated_idx ON sessions USING gist (delegated_ipv6_prefix inet_ops);

-- The same view with the IPv6 columns filled; its read-only triggers
-- (0002) stay with it.
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
	NULL::text                            AS framedinterfaceid,
	s.delegated_ipv6_prefix::inet         AS delegatedipv6prefix,
	CASE WHEN s.class IS NOT NULL AND cardinality(s.class) > 0 THEN '0x' || s.class[1] END AS class
FROM sessions s;

-- 0005: the IPv6 share of a session's traffic, next to the totals (which
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

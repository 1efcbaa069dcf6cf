-- 0004: IPv6 prefix pools shared by several LNS nodes: the /64s of the
-- subscribers' links (Framed-IPv6-Pool, RFC 3162 section 2.6), the
-- prefixes delegated to their routers (Delegated-IPv6-Prefix-Pool, RFC
-- 4818) and DHCPv6 addresses (Stateful-IPv6-Address-Pool, RFC 6911
-- section 3.5).

-- A pool is a covering prefix cut into prefixes of one length, numbered
-- 0 .. size-1 (a /128 pool leaves the Subnet-Router anycast address out,
-- so its index 0 is the prefix's address 1). No two pools overlap.
CREATE TABLE ipv6_pools (
	name       text     PRIMARY KEY,
	prefix     cidr     NOT NULL,
	length     smallint NOT NULL,
	size       bigint   NOT NULL CHECK (size > 0 AND size <= 1048576),
	next_index bigint   NOT NULL DEFAULT 0, -- the first index never leased
	CHECK (length BETWEEN masklen(prefix) AND 128 AND family(prefix) = 6),
	EXCLUDE USING gist (prefix inet_ops WITH &&)
);

-- A lease row is made the first time its prefix is handed out, so a pool
-- costs nothing until used and at most size rows. A prefix is leased to
-- at most one session; a session holds at most one prefix per pool.
CREATE TABLE ipv6_leases (
	pool        text        NOT NULL REFERENCES ipv6_pools (name) ON DELETE CASCADE,
	idx         bigint      NOT NULL,
	prefix      cidr        NOT NULL UNIQUE,
	session_id  text,
	node        text,
	leased_at   timestamptz,
	released_at timestamptz,
	PRIMARY KEY (pool, idx),
	UNIQUE (pool, session_id)
);
CREATE INDEX ipv6_leases_free_idx ON ipv6_leases (pool, released_at, idx) WHERE session_id IS NULL;
CREATE INDEX ipv6_leases_node_idx ON ipv6_leases (node) WHERE session_id IS NOT NULL;

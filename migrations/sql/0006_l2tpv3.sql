-- 0006: sessions over L2TPv3 (RFC 3931). The tunnel and session IDs of an
-- L2TPv3 session are its 32-bit Control Connection and Session IDs
-- (sections 5.4.3 and 5.4.4), which integer cannot hold unsigned; each
-- session says which L2TP version carried it and, on L2TPv3, its
-- pseudowire type (section 5.4.4: ppp, ethernet, ethernetvlan). Rows
-- written before this migration were all L2TPv2.
ALTER TABLE sessions
	ALTER COLUMN tunnel_id       TYPE bigint,
	ALTER COLUMN peer_tunnel_id  TYPE bigint,
	ALTER COLUMN l2tp_session_id TYPE bigint,
	ALTER COLUMN peer_session_id TYPE bigint,
	ADD COLUMN l2tp_version smallint NOT NULL DEFAULT 2 CHECK (l2tp_version IN (2, 3)),
	ADD COLUMN pw_type      text;

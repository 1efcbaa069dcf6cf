-- 0002: the FreeRADIUS-compatible views read-only; indexes for the lookups
-- operators make by Calling-Station-Id, access line and address.

-- radacct and radpostauth select plain columns of one table, so PostgreSQL
-- makes them updatable on its own: the stale-session cleanup several
-- billing tools run against FreeRADIUS ("UPDATE radacct SET acctstoptime =
-- now() WHERE acctstoptime IS NULL AND ...") would close sessions the LNS
-- still has up, and its Stop would then come second. bras writes the
-- tables, never the views; every write through a view is refused with
-- SQLSTATE 42501 (insufficient_privilege), whatever the writer's role.
CREATE FUNCTION bras_view_read_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'bras: % is read-only (% refused)', TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'bras keeps its sessions itself: end a session with bras disconnect, the API or a RADIUS Disconnect-Request';
END
$$;

CREATE TRIGGER radacct_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON radacct
	FOR EACH ROW EXECUTE FUNCTION bras_view_read_only();
CREATE TRIGGER radpostauth_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON radpostauth
	FOR EACH ROW EXECUTE FUNCTION bras_view_read_only();

-- Who was on this MAC, this access line (RFC 4679 Agent-Circuit-Id and
-- Agent-Remote-Id), this address, and when: radacct's callingstationid
-- and framedipaddress are these columns, so FreeRADIUS's and daloRADIUS's
-- queries use the indexes too. framed_ip has sessions_ip_idx since 0001.
CREATE INDEX sessions_calling_start_idx ON sessions (calling_station_id, start_time);
CREATE INDEX sessions_circuit_start_idx ON sessions (circuit_id, start_time);
CREATE INDEX sessions_remote_start_idx ON sessions (remote_id, start_time);

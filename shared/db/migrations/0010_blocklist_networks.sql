-- IP blocklist entries are networks, stored in one canonical form (issue 21, item 4), consistent with
-- the IP rate limit (shared/identifiers.py, which mirrors intel.canonical_ip_entry in Python):
--   * an IPv4 address inside IPv6, in any spelling (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
--     ::a.b.c.d, 6to4 2002:AABB:CCDD::/48, NAT64 64:ff9b::a.b.c.d) is that IPv4 address;
--   * an IPv6 address without a prefix is its /64 (what the limit counts: one subscriber);
--   * a CIDR given with the entry is kept (its network address).
-- The value is canonicalized on every write (a trigger), so that two spellings are one key and whoever
-- writes (SOAR, an analyst's SQL, the seed) cannot store a form the lookup misses; a malformed entry is
-- refused ("invalid input syntax for type inet"). The lookup matches by containment (value::cidr >>= ip).

CREATE OR REPLACE FUNCTION intel.canonical_ip_entry(entry text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    net inet := entry::inet;
    bits integer := masklen(net);
    base inet;
    v4 inet;
    keep integer;
    groups text[];
BEGIN
    IF family(net) = 4 THEN
        RETURN network(net)::text;
    END IF;
    base := network(net);
    IF bits >= 96 AND (base <<= '::ffff:0:0/96'::cidr OR base <<= '64:ff9b::/96'::cidr
                       OR (base <<= '::/96'::cidr AND host(base)::inet - '::'::inet > 1)) THEN
        -- The last 32 bits are the IPv4 address (mapped, NAT64 well-known prefix, compatible).
        v4 := '0.0.0.0'::inet + (host(base)::inet - host(set_masklen(base, 96)::cidr)::inet);
        keep := bits - 96;
    ELSIF bits >= 16 AND base <<= '2002::/16'::cidr THEN
        -- 6to4: bits 16-47 are the IPv4 address; read from the /48's text (2002:AABB:CCDD::, an empty
        -- group where zeros were compressed, which here are only trailing ones).
        groups := string_to_array(host(set_masklen(base, 48)::cidr), ':');
        v4 := ('0.0.0.0'::inet
               + ((('x' || lpad(coalesce(nullif(groups[2], ''), '0'), 4, '0'))::bit(16)::integer)::bigint << 16)
               + (('x' || lpad(coalesce(nullif(groups[3], ''), '0'), 4, '0'))::bit(16)::integer)::bigint);
        keep := least(bits - 16, 32);
    ELSIF strpos(entry, '/') = 0 THEN
        RETURN network(set_masklen(net, 64))::text;
    ELSE
        RETURN base::cidr::text;
    END IF;
    RETURN network(set_masklen(v4, keep))::text;
END
$$;

CREATE OR REPLACE FUNCTION intel.blocklist_canonical() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'ip' THEN
        NEW.value := intel.canonical_ip_entry(NEW.value);
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION pg_temp.is_inet(entry text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM entry::inet;
    RETURN entry ~ '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$';
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;

-- Entries already stored: a malformed one never matched a canonical address; it is moved to the audit
-- log (what it was, and why it went) rather than failing the migration. Two spellings of one network
-- become one entry (the one that expires last is kept).
INSERT INTO intel.audit_log (actor, action, target, details)
SELECT 'migration 0010', 'blocklist_entry_dropped', b.value,
       jsonb_build_object('reason', 'not an IP address or network', 'entry_reason', b.reason, 'source', b.source)
  FROM intel.blocklist b
 WHERE b.kind = 'ip' AND NOT pg_temp.is_inet(b.value);
DELETE FROM intel.blocklist b
 WHERE b.kind = 'ip' AND NOT pg_temp.is_inet(b.value);
DELETE FROM intel.blocklist b
 USING intel.blocklist other
 WHERE b.kind = 'ip' AND other.kind = 'ip' AND b.value <> other.value
   AND intel.canonical_ip_entry(b.value) = intel.canonical_ip_entry(other.value)
   AND (coalesce(b.expires_at, 'infinity') < coalesce(other.expires_at, 'infinity')
        OR (coalesce(b.expires_at, 'infinity') = coalesce(other.expires_at, 'infinity') AND b.value > other.value));
UPDATE intel.blocklist SET value = intel.canonical_ip_entry(value)
 WHERE kind = 'ip' AND value <> intel.canonical_ip_entry(value);

CREATE TRIGGER blocklist_canonical BEFORE INSERT OR UPDATE ON intel.blocklist
    FOR EACH ROW EXECUTE FUNCTION intel.blocklist_canonical();

-- The lookup's containment test on the request's address, by index.
CREATE INDEX blocklist_ip_network_idx ON intel.blocklist USING gist ((value::cidr) inet_ops) WHERE kind = 'ip';

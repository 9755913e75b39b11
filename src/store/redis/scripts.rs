//! The Lua scripts of the Redis store. Redis runs each script alone, so
//! its reads, checks and writes are atomic across every instance.
//!
//! Safe to repeat: a script may run twice when a connection breaks after
//! Redis received it but before the answer came back, and the store then
//! retries once (see `RedisStore::run`). `PUT`, `EPOCH`, `REVOKE`, `SNAPSHOT`
//! and `HEARTBEAT` are idempotent
//! by nature (the same values written again; an existing epoch is only
//! read). `ATTEMPT`, `REPLACE`, `COUNT` and `UNCOUNT` are not (a second run
//! would count a guess twice, or find its own replacement "too soon"), so
//! [`once`] wraps them: each call carries a random operation key, the
//! first run stores its answer there for [`OP_TTL_MS`], and a repeated run
//! returns that answer without doing anything.

/// Increment before compare: the attempt is counted first, then the keyed
/// hash compared, and the challenge is deleted on success or when the last
/// try is used. Plain `==` is not constant-time, but both sides are HMAC
/// outputs under the gateway's secret key; how many leading bytes of two
/// such MACs agree tells an attacker nothing about the code (they cannot
/// compute the MAC of a guess), and each comparison costs a counted try.
pub const ATTEMPT: &str = r"
local v = redis.call('HGET', KEYS[1], 'C')
if not v then return {'missing'} end
local function gone(answer) redis.call('HDEL', KEYS[1], 'C') return answer end
if struct.unpack('>I8', v, 25) <= tonumber(ARGV[3]) then return gone({'missing'}) end
local max = tonumber(ARGV[2])
local attempts = struct.unpack('>I4', v, 33)
if attempts >= max then return gone({'exhausted'}) end
attempts = attempts + 1
if string.sub(v, 1, 16) == ARGV[1] then
  local phone = string.gsub(string.sub(v, 41), '.',
    function(c) return string.format('%02x', string.byte(c)) end)
  return gone({'verified', phone})
end
if max - attempts <= 0 then return gone({'exhausted'}) end
redis.call('HSET', KEYS[1], 'C',
  string.sub(v, 1, 32) .. struct.pack('>I4', attempts) .. string.sub(v, 37))
return {'wrong', tostring(max - attempts)}
";

/// Cooldown check and replacement in one step: two instances resending at
/// once cannot both pass the cooldown.
/// ARGV: the new `hash | sent_at | expires_at` (packed.rs), now, the
/// cooldown, the key's TTL (only ever raised: records share the key).
pub const REPLACE: &str = r"
local v = redis.call('HGET', KEYS[1], 'C')
if not v then return {'missing'} end
local now = tonumber(ARGV[2])
if struct.unpack('>I8', v, 25) <= now then return {'missing'} end
local ready = struct.unpack('>I8', v, 17) + tonumber(ARGV[3])
if now < ready then return {'toosoon', tostring(ready - now)} end
local sends = struct.unpack('>I4', v, 37) + 1
redis.call('HSET', KEYS[1], 'C',
  ARGV[1] .. string.sub(v, 33, 36) .. struct.pack('>I4', sends) .. string.sub(v, 41))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {'replaced'}
";

/// Check, then add, inside one script: the counter never passes `max`.
/// Returns the count, or -1 when limited. `KEYS[1]` is the counter's
/// bucket hash, `ARGV[1]` its field (redis/keys.rs); every field of a
/// bucket ends with the same window, so one TTL serves them all.
pub const COUNT: &str = r"
local cost = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur + cost > tonumber(ARGV[3]) or (cost == 0 and cur >= tonumber(ARGV[3])) then
  return -1
end
if cost == 0 then return cur end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n
";

/// Takes back at most what is there (never below zero, never creates).
pub const UNCOUNT: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local take = math.min(cur, tonumber(ARGV[2]))
if take > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -take) end
return 0
";

/// A held value is its logical end (8 bytes, big-endian unix ms: the
/// caller's clock decides expiry, like a challenge's) then the bytes;
/// a held request is a key of its own, a record beside a challenge a
/// field of the challenge's hash (redis/keys.rs `HeldAt`). Each script
/// touches one key: one hash slot on a Cluster.
///
/// Extending rewrites the end in place: idempotent by nature (a repeated
/// run writes the same). ARGV: the new end (8 bytes), PX, now.
pub const EXTEND_HELD: &str = r"
local v = redis.call('GETRANGE', KEYS[1], 0, 7)
if string.len(v) < 8 then return 0 end
if struct.unpack('>I8', v) <= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1]) return 0
end
redis.call('SETRANGE', KEYS[1], 0, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// [`EXTEND_HELD`] for a record, field `ARGV[4]`; the key's TTL is only
/// ever raised (the challenge and its other records share it).
pub const EXTEND_RECORD: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[4])
if not v then return 0 end
if struct.unpack('>I8', v) <= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], ARGV[4]) return 0
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[1] .. string.sub(v, 9))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// A record written beside a challenge: field `ARGV[1]`, value `ARGV[2]`,
/// the key's TTL raised to at least `ARGV[3]`. Idempotent.
pub const HOLD_RECORD: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0
";

/// Get and delete in one step (GETDEL, written as a script so it runs on
/// Redis before 6.2 too): of concurrent claims, from any instance, only
/// one gets the value. Not wrapped in [`once`]: a run repeated after a
/// lost answer finds nothing, so the held request is dropped, never sent
/// twice (at most once is the property that matters for a payment).
pub const CLAIM_HELD: &str = r"
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
";

/// [`CLAIM_HELD`] for a record, field `ARGV[1]`.
pub const CLAIM_RECORD: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
";

/// A single-use mark (a proof-of-work solution, pow.rs): set it unless a
/// live one is there, in one step, so two instances cannot both use it.
/// The value is the logical end (20 digits, unix ms; the caller's clock
/// decides, as for challenges) then the caller's random token: a run
/// repeated after a lost answer finds its own token and still answers
/// "yours", where a plain `SET NX` would refuse the shopper's own use.
pub const USE_ONCE: &str = r"
local v = redis.call('GET', KEYS[1])
if v and tonumber(string.sub(v, 1, 20)) > tonumber(ARGV[3]) then
  if string.sub(v, 21) == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[2] .. ARGV[1], 'PX', ARGV[4])
return 1
";

/// The packed challenge (`ARGV[1]`, packed.rs) as field `C`, beside
/// whatever records the id has; the key's TTL raised to at least
/// `ARGV[2]`. Idempotent.
pub const PUT: &str = r"
redis.call('HSET', KEYS[1], 'C', ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// The store's epoch: read it, or write the caller's random value when it
/// is missing (Redis restarted empty, flushed, or failed over to a replica
/// without it). Returns `{epoch, created}`; concurrent instances agree on
/// whichever value was written first.
///
/// A new epoch means an empty store: its revocation index is complete by
/// construction (`KEYS[2]`, see [`SNAPSHOT`]), and every instance's
/// revocation cache is told to read it again (`ARGV[2]`, the channel).
pub const EPOCH: &str = r"
local e = redis.call('GET', KEYS[1])
if e then return {e, '0'} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1')
redis.call('PUBLISH', ARGV[2], '0|0|e|' .. ARGV[1])
return {ARGV[1], '1'}
";

/// A revocation (a logout, a pumping network block, the admin API's
/// per-phone "not before"): its own key (`KEYS[1]`, what the round trip
/// reads), its index entry (`KEYS[2]`, a sorted set scored by the entry's
/// end, what a snapshot reads), the next number (`KEYS[3]`) and the
/// message to every instance, all in one step: no instance can see the
/// number without the entry. Old index entries leave as new ones come.
/// Safe to repeat (the same entry twice, two numbers: no gap).
/// ARGV: value, PX, end (score: when the key expires), member, channel,
/// prune below (now, system clock).
pub const REVOKE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[5], seq .. '|' .. ARGV[3] .. '|' .. ARGV[4])
return seq
";

/// What a revocation cache loads: `{epoch, seq, {member, score, ...}}`
/// in one step, so `seq` and the entries agree. KEYS: epoch, index, seq,
/// `ready`. A store whose epoch predates the index (written by an older
/// otpgate) has revocation keys but no index yet: they are indexed once
/// here (SCAN of the revocation and not-before key patterns, ARGV[3] and
/// ARGV[4]), and `ready` marks it done. ARGV[1] and ARGV[2]: now (unix ms,
/// system clock), to prune below and to date the imported keys' ends.
pub const SNAPSHOT: &str = r"
if redis.call('EXISTS', KEYS[4]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local now = tonumber(ARGV[2])
  for i, kind in ipairs({'r', 'n'}) do
    local pattern = ARGV[2 + i]
    local skip = string.len(pattern) - 1
    local cursor = '0'
    repeat
      local page = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = page[1]
      for _, k in ipairs(page[2]) do
        local v = redis.call('GET', k)
        local ttl = redis.call('PTTL', k)
        if v and ttl > 0 then
          redis.call('ZADD', KEYS[2], now + ttl,
            kind .. '|' .. string.sub(k, skip + 1) .. '|' .. v)
        end
      end
    until cursor == '0'
  end
  redis.call('SET', KEYS[4], '1')
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[3]) or '0',
  redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
";

/// The revocation cache's heartbeat: `{epoch or '', seq}`.
pub const HEARTBEAT: &str = r"
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0'}
";

/// How long a repeat-safe script's answer is kept for a retry.
/// A retry comes at once after its first try failed, and each try gives
/// up after `CALL_TIMEOUT` (2 s): ten seconds cover both with room for a
/// slow server, and no longer (every counted call leaves one behind, so
/// this is a large part of what Redis holds per send).
pub const OP_TTL_MS: u64 = 10_000;

/// `body` (a script using `KEYS[1]` and `ARGV`) made safe to repeat: the
/// caller passes a fresh random operation key as the last key.
pub fn once(body: &str) -> String {
    format!(
        "local op = KEYS[#KEYS]\n\
         local done = redis.call('GET', op)\n\
         if done then return cjson.decode(done) end\n\
         local function run()\n{body}\nend\n\
         local answer = run()\n\
         redis.call('SET', op, cjson.encode(answer), 'PX', {OP_TTL_MS})\n\
         return answer\n"
    )
}

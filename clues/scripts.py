"""Lua sources of the clue store: one script per verb, sharing a prelude.

Every script takes the key prefix as ``ARGV[1]`` and builds key names as in ``clues.keys``.
The state machine tables are generated from ``clues.model`` so the Lua and the Python agree.
Scripts never read the Redis clock: times come in as arguments (event time for upserts, the
caller's clock for transitions), so they stay deterministic and testable.

Replies are flat arrays of strings: ``{'OK', ...hash fields...}`` or ``{'ERR', CODE, ...}``.
"""

from __future__ import annotations

from clues.model import MAX_SEVERITY_RANK, OPEN_STATUSES, TRANSITIONS

AUDIT_MAXLEN = 100_000
WARNINGS_KEPT = 100


def _lua_set(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"[{n!r}]=true" for n in names) + "}"


def _tables() -> str:
    sources = ", ".join(f"[{a!r}]={_lua_set(t.sources)}" for a, t in TRANSITIONS.items())
    targets = ", ".join(f"[{a!r}]={t.target!r}" for a, t in TRANSITIONS.items())
    return (
        f"local SOURCES = {{{sources}}}\n"
        f"local TARGET = {{{targets}}}\n"
        f"local OPEN = {_lua_set(OPEN_STATUSES)}\n"
        f"local MAX_RANK = {MAX_SEVERITY_RANK}\n"
        f"local AUDIT_MAXLEN = '{AUDIT_MAXLEN}'\n"
        f"local WARNINGS_LAST = {WARNINGS_KEPT - 1}\n"
    )


PRELUDE = (
    "local P = ARGV[1]\n"
    + _tables()
    + r"""
local function int(x) return string.format('%d', x) end
local function ckey(id) return P .. ':clue:' .. id end
local function qkey(status, rule)
  if rule then return P .. ':q:' .. status .. ':rule:' .. rule end
  return P .. ':q:' .. status
end

-- display order inside a status index (see clues.model)
local function score(status, ck)
  if status == 'new' then
    local f = redis.call('HMGET', ck, 'severity_rank', 'first_seen_ms')
    return (MAX_RANK - tonumber(f[1])) * 1e13 + tonumber(f[2])
  elseif status == 'claimed' then
    return tonumber(redis.call('HGET', ck, 'lease_expires_ms'))
  elseif status == 'disposed' then
    return -tonumber(redis.call('HGET', ck, 'disposed_ms'))
  end
  return 0
end

local function reindex(id, from, to, rule)
  if from ~= '' and from ~= to then
    redis.call('ZREM', qkey(from), id)
    redis.call('ZREM', qkey(from, rule), id)
  end
  local s = int(score(to, ckey(id)))
  redis.call('ZADD', qkey(to), s, id)
  redis.call('ZADD', qkey(to, rule), s, id)
end

local function index_all(id, rule, first_seen_s)
  local s = int(-tonumber(first_seen_s))
  redis.call('ZADD', qkey('all'), s, id)
  redis.call('ZADD', qkey('all', rule), s, id)
end

local function audit(id, ts_s, actor, action, from, to, reason)
  local f = {'clue_id', id, 'ts_ms', ts_s, 'actor', actor, 'action', action,
             'from', from, 'to', to, 'reason', reason}
  redis.call('XADD', ckey(id) .. ':audit', '*', unpack(f))
  redis.call('XADD', P .. ':audit', 'MAXLEN', '~', AUDIT_MAXLEN, '*', unpack(f))
end

local function expire(id, now_s)
  local ck = ckey(id)
  local f = redis.call('HMGET', ck, 'status', 'rule_id', 'claimed_by')
  local to = TARGET['expire']
  redis.call('HSET', ck, 'status', to)
  redis.call('HDEL', ck, 'claimed_by', 'claimed_ms', 'lease_expires_ms')
  redis.call('HINCRBY', ck, 'version', 1)
  reindex(id, f[1], to, f[2])
  audit(id, now_s, 'system', 'expire', f[1], to, 'lease of ' .. (f[3] or '?') .. ' expired')
end
"""
)

# ARGV: P, warning_id, fingerprint, ts_ms, severity_rank, severity, then two JSON arrays of
#       alternating field names and string values: identity fields (set when a clue opens)
#       and content fields (refreshed by the newest warning by event time). All values are
#       strings, so cjson never turns a number into a rounded double.
UPSERT = (
    PRELUDE
    + r"""
local wid, fp, ts_s, rank_s, severity = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ts, rank = tonumber(ts_s), tonumber(rank_s)
local ident, content = cjson.decode(ARGV[7]), cjson.decode(ARGV[8])
local fpkey = P .. ':fp:' .. fp

if redis.call('SADD', fpkey .. ':seen', wid) == 0 then
  return {'duplicate', redis.call('HGET', fpkey, 'clue_id') or ''}
end

local cur = redis.call('HMGET', fpkey, 'clue_id', 'generation')
local prev, gen = '', 0
if cur[1] then
  local ck = ckey(cur[1])
  local f = redis.call('HMGET', ck, 'status', 'first_seen_ms', 'last_seen_ms', 'severity_rank',
                       'rule_id')
  if OPEN[f[1]] then
    redis.call('HINCRBY', ck, 'warning_count', 1)
    redis.call('HINCRBY', ck, 'version', 1)
    local rescore = false
    if ts < tonumber(f[2]) then
      redis.call('HSET', ck, 'first_seen_ms', ts_s)
      index_all(cur[1], f[5], ts_s)
      rescore = true
    end
    if ts >= tonumber(f[3]) then
      redis.call('HSET', ck, 'last_seen_ms', ts_s, unpack(content))
    end
    if rank > tonumber(f[4]) then
      redis.call('HSET', ck, 'severity', severity, 'severity_rank', rank_s)
      rescore = true
    end
    if rescore then reindex(cur[1], f[1], f[1], f[5]) end
    redis.call('LPUSH', ck .. ':warnings', wid)
    redis.call('LTRIM', ck .. ':warnings', 0, WARNINGS_LAST)
    return {'merged', cur[1]}
  end
  prev, gen = cur[1], tonumber(cur[2]) + 1
end

local id = 'clue-' .. string.sub(redis.sha1hex(fp .. '\31' .. int(gen)), 1, 20)
local ck = ckey(id)
local to = TARGET['open']
redis.call('HSET', ck, 'id', id, 'fingerprint', fp, 'generation', int(gen), 'status', to,
           'severity', severity, 'severity_rank', rank_s, 'first_seen_ms', ts_s,
           'last_seen_ms', ts_s, 'warning_count', 1, 'version', 1, 'previous_clue_id', prev,
           unpack(ident))
redis.call('HSET', ck, unpack(content))
redis.call('HSET', fpkey, 'clue_id', id, 'generation', int(gen))
if prev ~= '' then redis.call('HSET', ckey(prev), 'next_clue_id', id) end
redis.call('LPUSH', ck .. ':warnings', wid)
local rule = redis.call('HGET', ck, 'rule_id')
reindex(id, '', to, rule)
index_all(id, rule, ts_s)
audit(id, ts_s, 'system', 'open', '', to, 'warning ' .. wid)
return {'new', id}
"""
)

# ARGV: P, clue_id, actor, now_ms, lease_ms
CLAIM = (
    PRELUDE
    + r"""
local id, actor, now_s = ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_s)
local ck = ckey(id)
local f = redis.call('HMGET', ck, 'status', 'lease_expires_ms', 'claimed_by', 'rule_id')
if not f[1] then return {'ERR', 'NOT_FOUND'} end
local expired = '0'
if SOURCES['expire'][f[1]] and f[2] and tonumber(f[2]) <= now then
  expire(id, now_s)
  expired = '1'
  f = redis.call('HMGET', ck, 'status', 'lease_expires_ms', 'claimed_by', 'rule_id')
end
if not SOURCES['claim'][f[1]] then
  return {'ERR', 'BAD_STATE', f[1], f[3] or '', f[2] or ''}
end
local to = TARGET['claim']
redis.call('HSET', ck, 'status', to, 'claimed_by', actor, 'claimed_ms', now_s,
           'lease_expires_ms', int(now + tonumber(ARGV[5])))
redis.call('HINCRBY', ck, 'version', 1)
reindex(id, f[1], to, f[4])
audit(id, now_s, actor, 'claim', f[1], to, '')
return {'OK', expired, unpack(redis.call('HGETALL', ck))}
"""
)

# ARGV: P, clue_id, actor, now_ms, expected_version, code, outcome, note, disposition_json
DISPOSE = (
    PRELUDE
    + r"""
local id, actor, now_s = ARGV[2], ARGV[3], ARGV[4]
local ck = ckey(id)
local f = redis.call('HMGET', ck, 'status', 'claimed_by', 'lease_expires_ms', 'version',
                     'rule_id', 'disposed_by', 'disposition_code')
if not f[1] then return {'ERR', 'NOT_FOUND'} end
if not SOURCES['dispose'][f[1]] then
  return {'ERR', 'BAD_STATE', f[1], f[6] or '', f[7] or ''}
end
if f[2] ~= actor then return {'ERR', 'NOT_HOLDER', f[1], f[2] or ''} end
if tonumber(f[3]) <= tonumber(now_s) then return {'ERR', 'LEASE_EXPIRED', f[1], f[3]} end
if f[4] ~= ARGV[5] then return {'ERR', 'CONFLICT', f[1], f[4]} end
local to = TARGET['dispose']
redis.call('HSET', ck, 'status', to, 'disposed_by', actor, 'disposed_ms', now_s,
           'disposition_code', ARGV[6], 'outcome', ARGV[7], 'note', ARGV[8])
redis.call('HDEL', ck, 'lease_expires_ms')
redis.call('HINCRBY', ck, 'version', 1)
reindex(id, f[1], to, f[5])
audit(id, now_s, actor, 'dispose', f[1], to, ARGV[6])
redis.call('XADD', P .. ':outbox', '*', 'kind', 'disposition', 'key', id, 'value', ARGV[9])
return {'OK', unpack(redis.call('HGETALL', ck))}
"""
)

# ARGV: P, now_ms, limit. Returns the ids whose lease ran out (back in the queue now).
REAP = (
    PRELUDE
    + r"""
local ids = redis.call('ZRANGE', qkey(TARGET['claim']), '-inf', ARGV[2], 'BYSCORE',
                       'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do expire(id, ARGV[2]) end
return ids
"""
)

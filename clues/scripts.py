"""Lua of the clue store: a shared prelude and the ingest, reaper, ticker and list scripts.

The transition script (one verb per call, every verb atomic) is in ``clues.lua_transition``,
the list script in ``clues.lua_list``.
Every script takes the key prefix as ``ARGV[1]`` and builds key names as ``clues.keys``
does. The state machine tables are generated from ``clues.model`` so the Lua and the Python
agree. Scripts never read the Redis clock: times come in as arguments (event time for
upserts, the caller's clock for the rest), so they stay deterministic and testable.

Replies are flat arrays of strings: ``{'OK', ...}`` or ``{'ERR', CODE, ...}``.
"""

from __future__ import annotations

from clues import model
from clues.model import TRANSITIONS

AUDIT_MAXLEN = 100_000
WARNINGS_KEPT = 100
# State fields whose changes every audit entry records (before/after): replaying the "after"
# of a clue's entries in order rebuilds exactly these fields.
TRACKED = (
    "status",
    "claimed_by",
    "department",
    "priority",
    "warning_count",
    "first_seen_ms",
    "last_seen_ms",
    "due_ms",
    "sign_due_ms",
    "deadline_estimated",
    "colour",
    "escalation_level",
    "ticket_id",
    "return_count",
    "arbitrated",
    "rework_count",
    "disposition_code",
    "sub_reason",
    "outcome",
    "case_ref",
    "merged_into",
    "extension_count",
    "ext_new_due_ms",
    "suspend_reason",
    "paused_ms",
    "labels",
    "evidence_refs",
    "closed_by",
)
INDEXED = (
    "status",
    "rule_id",
    "department",
    "colour",
    "claimed_by",
    "priority",
    "first_seen_ms",
    "due_ms",
    "lease_expires_ms",
    "updated_ms",
)


def _set(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"[{n!r}]=true" for n in names) + "}"


def _map(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{k!r}]={v}" for k, v in pairs.items()) + "}"


def _list(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(repr(n) for n in names) + "}"


def _tables() -> str:
    t = TRANSITIONS
    return "\n".join(
        [
            f"local SOURCES = {_map({a: _set(x.sources) for a, x in t.items()})}",
            f"local TARGET = {_map({a: repr(x.target) for a, x in t.items()})}",
            f"local ROLES = {_map({a: _set(x.roles) for a, x in t.items()})}",
            f"local HOLDER = {_set(tuple(a for a, x in t.items() if x.holder))}",
            f"local OVERRIDE = {_map({a: _set(x.override) for a, x in t.items()})}",
            f"local RENEWS = {_set(tuple(a for a, x in t.items() if x.renews))}",
            f"local READONLY = {_set(model.READ_ACTIONS)}",
            f"local OPEN = {_set(model.OPEN_STATUSES)}",
            f"local CLOCKED = {_set(model.CLOCKED_STATUSES)}",
            f"local HELD = {_set(model.HELD_STATUSES)}",
            f"local EVIDENCE_REQUIRED = {_set(model.EVIDENCE_REQUIRED)}",
            f"local TRACKED = {_list(TRACKED)}",
            f"local INDEXED = {_list(INDEXED)}",
            f"local MAX_PRIO = {model.MAX_PRIORITY}",
            f"local RETURNS_ARB = {model.RETURNS_BEFORE_ARBITRATION}",
            f"local REWORK_TICKET = {model.REWORK_TICKET_AFTER}",
            f"local REPEAT_WINDOW = {model.REPEAT_WINDOW_MS}",
            f"local AUDIT_MAXLEN = '{AUDIT_MAXLEN}'",
            f"local WARNINGS_LAST = {WARNINGS_KEPT - 1}",
        ]
    )


PRELUDE = (
    "local P = ARGV[1]\n"
    + _tables()
    + r"""
local function int(x) return string.format('%d', x) end
local function num(x) return tonumber(x) or 0 end
local function key(...) return P .. ':' .. table.concat({...}, ':') end
local function ckey(id) return key('clue', id) end
local function snap(ck, names)
  local v = redis.call('HMGET', ck, unpack(names))
  local t = {}
  for i, n in ipairs(names) do t[n] = v[i] or '' end
  return t
end
local EMPTY_IDX, EMPTY_TRACKED = {}, {}
for _, n in ipairs(INDEXED) do EMPTY_IDX[n] = '' end
for _, n in ipairs(TRACKED) do EMPTY_TRACKED[n] = '' end

-- queue order inside a status index (ascending score = display order)
local function qscore(s)
  local st, prio = s.status, MAX_PRIO - num(s.priority)
  if st == 'new' then return prio * 1e13 + num(s.first_seen_ms) end
  if st == 'claimed' then return num(s.lease_expires_ms) end  -- the reaper reads this
  if CLOCKED[st] or st == 'suspended' then return prio * 1e13 + num(s.due_ms) end
  return -num(s.updated_ms)
end

-- every index a clue in state s belongs to, with its score there
local function entries(s)
  local e = {}
  if s.status == '' then return e end
  local q, fs, due = qscore(s), -num(s.first_seen_ms), num(s.due_ms)
  e[key('q', s.status)] = q
  e[key('q', s.status, 'rule', s.rule_id)] = q
  e[key('q', s.status, 'dept', s.department)] = q
  e[key('q', 'all')] = fs
  e[key('q', 'all', 'rule', s.rule_id)] = fs
  e[key('q', 'all', 'dept', s.department)] = fs
  if CLOCKED[s.status] and s.due_ms ~= '' then
    e[key('q', 'due')] = due
    e[key('q', 'due', 'dept', s.department)] = due
  end
  if s.colour ~= '' then e[key('q', 'colour', s.colour)] = due end
  if HELD[s.status] and s.claimed_by ~= '' then e[key('q', 'assignee', s.claimed_by)] = due end
  return e
end

local function reindex(id, b, a)
  local eb, ea = entries(b), entries(a)
  for k, _ in pairs(eb) do if ea[k] == nil then redis.call('ZREM', k, id) end end
  for k, sc in pairs(ea) do
    if eb[k] ~= sc then redis.call('ZADD', k, int(sc), id) end
  end
  local kb, ka = b.status .. '|' .. b.colour, a.status .. '|' .. a.colour
  if kb ~= ka then
    if b.status ~= '' then redis.call('HINCRBY', key('stats', 'backlog'), kb, -1) end
    if a.status ~= '' then redis.call('HINCRBY', key('stats', 'backlog'), ka, 1) end
  end
end

local function diff(b, a)
  local before, after, n = {}, {}, 0
  for _, f in ipairs(TRACKED) do
    if b[f] ~= a[f] then before[f] = b[f]; after[f] = a[f]; n = n + 1 end
  end
  if n == 0 then return '{}', '{}' end
  return cjson.encode(before), cjson.encode(after)
end

local function audit(id, now_s, actor, role, action, from, to, reason, bj, aj, version)
  local f = {'clue_id', id, 'ts_ms', now_s, 'actor', actor, 'role', role, 'action', action,
             'from', from, 'to', to, 'reason', reason, 'before', bj, 'after', aj,
             'version', version}
  redis.call('XADD', ckey(id) .. ':audit', '*', unpack(f))
  redis.call('XADD', key('audit'), 'MAXLEN', '~', AUDIT_MAXLEN, '*', unpack(f))
end

-- the step as a envelope.events.ClueTransition in the outbox (published to Kafka by
-- clues.outbox), written in the same call as the step itself; id = clue id @ version
local function publish(c, a, action, actor, role, now_s, reason, bj, aj, v)
  local rec = {kind = 'transition', id = c.id .. '@v' .. int(v), clue_id = c.id,
               rule_id = a.rule_id, action = action, from_status = c.idx.status,
               to_status = a.status, actor = actor, role = role, ts_ms = tonumber(now_s),
               reason = reason, version = v, before = cjson.decode(bj),
               after = cjson.decode(aj)}
  redis.call('XADD', key('outbox'), '*', 'kind', 'transition', 'key', c.id, 'value',
             cjson.encode(rec))
end

local function begin(id)
  local ck = ckey(id)
  return {id = id, ck = ck, idx = snap(ck, INDEXED), tracked = snap(ck, TRACKED)}
end

local function open_ticket(c, now_s, level, why)
  local tid = 'tkt-' .. string.sub(redis.sha1hex(c.id .. '\31' .. now_s .. '\31' .. why), 1, 16)
  local f = redis.call('HMGET', c.ck, 'department', 'region', 'due_ms', 'rule_id')
  redis.call('HSET', key('ticket', tid), 'id', tid, 'clue_id', c.id, 'department', f[1] or '',
             'region', f[2] or '', 'due_ms', f[3] or '', 'rule_id', f[4] or '', 'level', level,
             'reason', why, 'opened_ms', now_s, 'status', 'open')
  redis.call('ZADD', key('tickets'), now_s, tid)
  redis.call('HSET', c.ck, 'ticket_id', tid, 'escalation_level', level)
  redis.call('HINCRBY', key('stats'), 'tickets|' .. why, 1)
end

local function close_ticket(ck, now_s)
  local tid = redis.call('HGET', ck, 'ticket_id')
  if tid and tid ~= '' then
    local tk = key('ticket', tid)
    if redis.call('HGET', tk, 'status') == 'open' then
      redis.call('HSET', tk, 'status', 'closed', 'closed_ms', now_s)
    end
  end
end

-- the common end of every step: deadline bookkeeping, version, indexes, audit, outbox
-- (every step but a read: a read keeps the version, so it is no transition)
local function finish(c, action, actor, role, now_s, reason, bump)
  local ck = c.ck
  local st = redis.call('HGET', ck, 'status')
  if not CLOCKED[st] and st ~= 'suspended' then
    -- a disposed or reviewed clue can come back by rework: it keeps when it went red (and
    -- its escalation level), so the ticker does not take its return for a fresh overdue
    redis.call('HDEL', ck, 'colour')
    if not OPEN[st] then redis.call('HDEL', ck, 'red_since_ms') end
    redis.call('ZREM', key('sla'), c.id)
    close_ticket(ck, now_s)
  end
  local v
  if bump then
    redis.call('HSET', ck, 'updated_ms', now_s)
    v = redis.call('HINCRBY', ck, 'version', 1)
  else
    v = num(redis.call('HGET', ck, 'version'))
  end
  local a = snap(ck, INDEXED)
  reindex(c.id, c.idx, a)
  local bj, aj = diff(c.tracked, snap(ck, TRACKED))
  audit(c.id, now_s, actor, role, action, c.idx.status, a.status, reason, bj, aj, int(v))
  if not READONLY[action] then publish(c, a, action, actor, role, now_s, reason, bj, aj, v) end
  return v
end

local function expire(id, now_s)
  local c = begin(id)
  local holder = redis.call('HGET', c.ck, 'claimed_by') or '?'
  redis.call('HSET', c.ck, 'status', TARGET['expire'])
  redis.call('HDEL', c.ck, 'claimed_by', 'claimed_ms', 'lease_expires_ms')
  redis.call('HINCRBY', c.ck, 'lease_expired_count', 1)
  redis.call('HINCRBY', key('stats'), 'lease_expired', 1)
  redis.call('ZADD', key('sla'), now_s, id)
  finish(c, 'expire', 'system', 'system', now_s, 'lease of ' .. holder .. ' expired', true)
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
local fpkey = key('fp', fp)

if redis.call('SADD', fpkey .. ':seen', wid) == 0 then
  return {'duplicate', redis.call('HGET', fpkey, 'clue_id') or ''}
end

local cur = redis.call('HMGET', fpkey, 'clue_id', 'generation')
local prev, gen = '', 0
if cur[1] then
  local ck = ckey(cur[1])
  local f = redis.call('HMGET', ck, 'status', 'first_seen_ms', 'last_seen_ms', 'severity_rank',
                       'priority')
  if OPEN[f[1]] then
    -- audited like any step (the count and seen times before/after), so the trail accounts
    -- for every version; a warning of a higher severity also raises the clue's priority
    local c = begin(cur[1])
    redis.call('HINCRBY', ck, 'warning_count', 1)
    redis.call('HINCRBY', ck, 'version', 1)
    if ts < num(f[2]) then redis.call('HSET', ck, 'first_seen_ms', ts_s) end
    if ts >= num(f[3]) then redis.call('HSET', ck, 'last_seen_ms', ts_s, unpack(content)) end
    redis.call('LPUSH', ck .. ':warnings', wid)
    redis.call('LTRIM', ck .. ':warnings', 0, WARNINGS_LAST)
    local action, why = 'merge_warning', 'warning ' .. wid
    if rank > num(f[4]) then
      redis.call('HSET', ck, 'severity', severity, 'severity_rank', rank_s)
      if rank > num(f[5]) then redis.call('HSET', ck, 'priority', rank_s) end
      action, why = 'raise_priority', why .. ': ' .. severity
    end
    finish(c, action, 'system', 'system', ts_s, why, false)
    return {'merged', cur[1]}
  end
  prev, gen = cur[1], tonumber(cur[2]) + 1
end

local id = 'clue-' .. string.sub(redis.sha1hex(fp .. '\31' .. int(gen)), 1, 20)
local ck = ckey(id)
local prio, repeat_of = rank, ''
if prev ~= '' then
  local p = redis.call('HMGET', ckey(prev), 'priority', 'last_seen_ms', 'status')
  if p[3] == 'closed' and ts - num(p[2]) <= REPEAT_WINDOW then
    prio, repeat_of = math.min(math.max(rank, num(p[1])) + 1, MAX_PRIO), prev
  end
  redis.call('HSET', ckey(prev), 'next_clue_id', id)
end
redis.call('HSET', ck, 'id', id, 'fingerprint', fp, 'generation', int(gen), 'status', 'new',
           'severity', severity, 'severity_rank', rank_s, 'priority', int(prio),
           'first_seen_ms', ts_s, 'last_seen_ms', ts_s, 'warning_count', 1, 'version', 1,
           'updated_ms', ts_s, 'previous_clue_id', prev, 'repeat_of', repeat_of, unpack(ident))
redis.call('HSET', ck, unpack(content))
redis.call('HSET', fpkey, 'clue_id', id, 'generation', int(gen))
redis.call('LPUSH', ck .. ':warnings', wid)
local c = {id = id, ck = ck, idx = EMPTY_IDX, tracked = EMPTY_TRACKED}
local why = 'warning ' .. wid
if repeat_of ~= '' then why = why .. ', repeat of ' .. repeat_of end
finish(c, 'open', 'system', 'system', ts_s, why, false)
return {'new', id}
"""
)

# ARGV: P, now_ms, limit. Returns the ids whose lease ran out (back in their department queue).
REAP = (
    PRELUDE
    + r"""
local ids = redis.call('ZRANGE', key('q', 'claimed'), '-inf', ARGV[2], 'BYSCORE',
                       'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do expire(id, ARGV[2]) end
return ids
"""
)

# ARGV: P, now_ms, JSON list of {id, version, colour, escalate ('1'|'0'), next (ms)} decided
# by the ticker in Python (it owns the calendar). A clue that changed since the ticker read
# it is skipped and looked at again on the next tick. Returns how many were applied.
SLA_STEP = (
    PRELUDE
    + r"""
local now_s = ARGV[2]
local done = 0
for _, d in ipairs(cjson.decode(ARGV[3])) do
  local ck = ckey(d.id)
  local f = redis.call('HMGET', ck, 'status', 'version', 'colour')
  if not f[1] or not CLOCKED[f[1]] then
    redis.call('ZREM', key('sla'), d.id)
  elseif f[2] == d.version then
    local old = f[3] or ''
    if d.colour ~= old then
      local c = begin(d.id)
      redis.call('HSET', ck, 'colour', d.colour)
      if d.colour == 'red' then
        -- red_since_ms still set: red before a disposal that review sent back; keep it
        redis.call('HSETNX', ck, 'red_since_ms', now_s)
        open_ticket(c, now_s, math.max(num(c.tracked.escalation_level), 1), 'overdue')
      else
        redis.call('HDEL', ck, 'red_since_ms')
        if old == 'red' then close_ticket(ck, now_s) end
      end
      finish(c, 'recolour', 'system', 'system', now_s, old .. ' -> ' .. d.colour, true)
    end
    if d.escalate == '1' then
      local c = begin(d.id)
      local lvl = redis.call('HINCRBY', ck, 'escalation_level', 1)
      local tid = redis.call('HGET', ck, 'ticket_id')
      if tid then redis.call('HSET', key('ticket', tid), 'level', lvl) end
      redis.call('HINCRBY', key('stats'), 'escalations', 1)
      finish(c, 'escalate_overdue', 'system', 'system', now_s, 'level ' .. lvl, true)
    end
    redis.call('ZADD', key('sla'), d.next, d.id)
    done = done + 1
  end
end
return done
"""
)

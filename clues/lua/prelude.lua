-- The prelude of every clue script: key names, queue order, indexes, audit, outbox, the
-- common end of a step (finish, and record: a step's indexes, audit and outbox from its
-- state before and after) and a lease's expiry (expire).
--
-- clues.scripts puts the state machine tables in front of it (SOURCES, TARGET, ROLES,
-- HOLDER, OVERRIDE, RENEWS, READONLY, OPEN, CLOCKED, HELD, EVIDENCE_REQUIRED, TRACKED,
-- INDEXED and the numbers MAX_PRIO ... WARNINGS_LAST, generated from clues.model) and the
-- script's own file after it. Every script takes the key prefix as ARGV[1] and builds key
-- names as clues.keys does. Times come in as arguments, never from the Redis clock.
-- ARGV is a local of the assembled text: the call's arguments (start_call sets it in the
-- function library, where this text runs once when the library loads).
local P = ARGV[1]
local function int(x) return string.format('%d', x) end
local function num(x) return tonumber(x) or 0 end
-- key('q', 'all', 'dept', d) = P:q:all:dept:d (up to four parts; no table made per name)
local function key(a, b, c, d, e)
  assert(e == nil, 'key: at most four parts')
  if b == nil then return P .. ':' .. a end
  if c == nil then return P .. ':' .. a .. ':' .. b end
  if d == nil then return P .. ':' .. a .. ':' .. b .. ':' .. c end
  return P .. ':' .. a .. ':' .. b .. ':' .. c .. ':' .. d
end
local function ckey(id) return key('clue', id) end
local function snap(ck, names)
  local v = redis.call('HMGET', ck, unpack(names))
  local t = {}
  for i, n in ipairs(names) do t[n] = v[i] or '' end
  return t
end
-- (numeric loops at the top level: a function library loads without ipairs or pairs)
local EMPTY_IDX, EMPTY_TRACKED = {}, {}
for i = 1, #INDEXED do EMPTY_IDX[INDEXED[i]] = '' end
for i = 1, #TRACKED do EMPTY_TRACKED[TRACKED[i]] = '' end

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

-- index writes go to Redis at once, or wait in LATER (the upsert script sets it) until
-- flush_later writes each index's net change in one ZADD and one ZREM, the counters in one
-- HINCRBY per field: a member's last write in the call wins, as if written in turn
local LATER = nil
local function zwrite(k, id, sc)
  if LATER == nil then
    if sc then redis.call('ZADD', k, int(sc), id) else redis.call('ZREM', k, id) end
    return
  end
  local t = LATER.z[k]
  if t == nil then t = {}; LATER.z[k] = t end
  t[id] = sc and int(sc) or false
end

local function count(field, by)
  if LATER == nil then redis.call('HINCRBY', key('stats', 'backlog'), field, by); return end
  LATER.backlog[field] = (LATER.backlog[field] or 0) + by
end

local function flush_later()
  for k, t in pairs(LATER.z) do
    local add, rem = {}, {}
    for id, sc in pairs(t) do
      if sc then add[#add + 1] = sc; add[#add + 1] = id else rem[#rem + 1] = id end
    end
    if #rem > 0 then redis.call('ZREM', k, unpack(rem)) end
    if #add > 0 then redis.call('ZADD', k, unpack(add)) end
  end
  for field, by in pairs(LATER.backlog) do
    if by ~= 0 then redis.call('HINCRBY', key('stats', 'backlog'), field, by) end
  end
  LATER = nil
end

local function reindex(id, b, a)
  local eb, ea = entries(b), entries(a)
  for k, _ in pairs(eb) do if ea[k] == nil then zwrite(k, id, false) end end
  for k, sc in pairs(ea) do
    if eb[k] ~= sc then zwrite(k, id, sc) end
  end
  local kb, ka = b.status .. '|' .. b.colour, a.status .. '|' .. a.colour
  if kb ~= ka then
    if b.status ~= '' then count(kb, -1) end
    if a.status ~= '' then count(ka, 1) end
  end
end

-- the tracked fields that changed: their values before and after
local function diff(b, a)
  local before, after = {}, {}
  for _, f in ipairs(TRACKED) do
    if b[f] ~= a[f] then before[f] = b[f]; after[f] = a[f] end
  end
  return before, after
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
local function publish(c, a, action, actor, role, now_s, reason, before, after, v)
  local rec = {kind = 'transition', id = c.id .. '@v' .. int(v), clue_id = c.id,
               rule_id = a.rule_id, action = action, from_status = c.idx.status,
               to_status = a.status, actor = actor, role = role, ts_ms = tonumber(now_s),
               reason = reason, version = v, before = before, after = after}
  redis.call('XADD', key('outbox'), '*', 'kind', 'transition', 'key', c.id, 'value',
             cjson.encode(rec))
end

-- the fields a step reads before and after itself, in one HMGET: the indexed and tracked
-- fields, and the version and severity rank
local STATE, in_state = {}, {}
local STATE_PARTS = {INDEXED, TRACKED, {'version', 'severity_rank'}}
for j = 1, #STATE_PARTS do
  local names = STATE_PARTS[j]
  for i = 1, #names do
    local n = names[i]
    if not in_state[n] then in_state[n] = true; STATE[#STATE + 1] = n end
  end
end

-- the clue's state: every STATE field ('' when absent), which are present, and the indexed
-- and tracked views (tables of their own: a step may compare them with later ones)
local function state(ck)
  local v = redis.call('HMGET', ck, unpack(STATE))
  local s, present, idx, tracked = {}, {}, {}, {}
  for i, n in ipairs(STATE) do s[n] = v[i] or ''; present[n] = v[i] ~= false end
  for _, n in ipairs(INDEXED) do idx[n] = s[n] end
  for _, n in ipairs(TRACKED) do tracked[n] = s[n] end
  return s, present, idx, tracked
end

local function begin(id)
  local ck = ckey(id)
  local s, _, idx, tracked = state(ck)
  return {id = id, ck = ck, idx = idx, tracked = tracked, fields = s}
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

local function close_ticket(ck, now_s, tid)
  if tid == nil then tid = redis.call('HGET', ck, 'ticket_id') end
  if tid and tid ~= '' then
    local tk = key('ticket', tid)
    if redis.call('HGET', tk, 'status') == 'open' then
      redis.call('HSET', tk, 'status', 'closed', 'closed_ms', now_s)
    end
  end
end

-- whether two states have the same indexed fields (then they are in the same indexes)
local function same_index(b, a)
  for _, n in ipairs(INDEXED) do if b[n] ~= a[n] then return false end end
  return true
end

-- a step's indexes, audit entry and outbox record, from the clue's indexed and tracked
-- fields before it (c.idx, c.tracked) and after it (a, after), at version v

local function record(c, a, after, action, actor, role, now_s, reason, v)
  if not same_index(c.idx, a) then reindex(c.id, c.idx, a) end
  local before, changed = diff(c.tracked, after)
  local bj, aj = cjson.encode(before), cjson.encode(changed)
  audit(c.id, now_s, actor, role, action, c.idx.status, a.status, reason, bj, aj, int(v))
  if not READONLY[action] then
    publish(c, a, action, actor, role, now_s, reason, before, changed, v)
  end
end

-- the common end of every step: deadline bookkeeping, version, indexes, audit, outbox
-- (every step but a read: a read keeps the version, so it is no transition)
local function finish(c, action, actor, role, now_s, reason, bump)
  local ck = c.ck
  local s, present, a, after = state(ck)
  local st = s.status
  if not CLOCKED[st] and st ~= 'suspended' then
    -- a disposed or reviewed clue can come back by rework: it keeps when it went red (and
    -- its escalation level), so the ticker does not take its return for a fresh overdue
    if present.colour then
      redis.call('HDEL', ck, 'colour')
      a.colour, after.colour = '', ''
    end
    if not OPEN[st] then redis.call('HDEL', ck, 'red_since_ms') end
    redis.call('ZREM', key('sla'), c.id)
    close_ticket(ck, now_s, s.ticket_id)
  end
  local v
  if bump then
    redis.call('HSET', ck, 'updated_ms', now_s)
    a.updated_ms = now_s
    v = redis.call('HINCRBY', ck, 'version', 1)
  else
    v = num(s.version)
  end
  record(c, a, after, action, actor, role, now_s, reason, v)
  views_step(ck, c.idx.status, a.status)  -- clues/lua/views.lua
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

-- the start of a call in the function library, whose locals live from one call to the
-- next: the call's arguments, and nothing left of a call that failed half way
local function start_call(args)
  ARGV, P, LATER, VIEWS_LATER = args, args[1], nil, nil
end

-- The transition script: every user action on a clue, one atomic Lua call each.
--
-- ARGV: P, clue_id, action, actor, role, now_ms, expected version ('' = any), args JSON (all
-- values strings; prepared and validated by clues.actions), disposition JSON ('' = none),
-- the caller's scope JSON {departments: {d: true}, regions: [prefix]} (absent = all).
--
-- Checks, in order: the clue exists; the role may do the action (model.TRANSITIONS); the
-- clue is inside the caller's departments and regions; the version is the expected one; an
-- expired lease is returned to the department queue first; the status is a legal source; a
-- holder-only action comes from the holder (or an override role); then the action's own
-- guards. Nothing is written before every check passed. The common finish (in the prelude)
-- bumps the version, renews the holder's lease, moves the clue between indexes, appends the
-- audit entry with the changed fields before and after and writes the step to the outbox (a
-- ClueTransition; dispose and dismiss also write their Disposition first), so every step
-- reaches clue.dispositions.
--
-- Replies: {'OK', expired, ...HGETALL} or {'ERR', CODE, status, detail...}.

-- each action's own guards and writes: E[action](c, args, actor, role, now, now_s) returns
-- the target status, or nil and the error reply
local E = {}
local function hset(ck, ...) redis.call('HSET', ck, ...) end
local function lease(ck, now)
  hset(ck, 'lease_expires_ms', int(now + num(redis.call('HGET', ck, 'lease_ms') or 1800000)))
end
local function sla_now(c, now_s) redis.call('ZADD', key('sla'), now_s, c.id) end
-- a deadline counted across days the calendar had to guess: flagged for good
local function estimated(ck, flag)
  if flag == '1' then hset(ck, 'deadline_estimated', '1') end
end
local function append_refs(ck, extra)
  local refs = cjson.decode(redis.call('HGET', ck, 'evidence_refs') or '[]')
  for _, r in ipairs(cjson.decode(extra or '[]')) do refs[#refs + 1] = r end
  return refs
end

E['dispatch'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'department', a.department, 'dispatched_ms', now_s, 'dispatched_by', actor,
       'sign_due_ms', a.sign_due_ms)
  if c.tracked.due_ms == '' then
    hset(c.ck, 'due_ms', a.due_ms, 'original_due_ms', a.due_ms, 'sla', a.sla,
         'colour', a.colour)
  end
  estimated(c.ck, a.estimated)
  sla_now(c, now_s)
  return 'dispatched'
end

E['return'] = function(c, a, actor, role, now, now_s)
  local st = c.idx.status
  if st == 'claimed' and c.idx.claimed_by ~= actor and role ~= 'lead' then
    return nil, {'ERR', 'NOT_HOLDER', st, c.idx.claimed_by}
  end
  if c.tracked.arbitrated == '1' then return nil, {'ERR', 'ARBITRATED', st, c.idx.department} end
  local n = redis.call('HINCRBY', c.ck, 'return_count', 1)
  hset(c.ck, 'last_return_reason', a.reason_code, 'returned_by', actor, 'returned_ms', now_s)
  redis.call('HDEL', c.ck, 'claimed_by', 'claimed_ms', 'lease_expires_ms')
  redis.call('HINCRBY', key('stats'), 'returns|' .. a.reason_code, 1)
  if n >= RETURNS_ARB then return 'arbitration' end
  return 'returned'
end

E['arbitrate'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'department', a.department, 'arbitrated', '1', 'arbitrated_by', actor,
       'dispatched_ms', now_s, 'sign_due_ms', a.sign_due_ms)
  estimated(c.ck, a.estimated)
  sla_now(c, now_s)
  return 'dispatched'
end

E['claim'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'claimed_by', actor, 'claimed_ms', now_s, 'lease_ms', a.lease_ms,
       'lease_expires_ms', int(now + tonumber(a.lease_ms)))
  if redis.call('HSETNX', c.ck, 'first_claimed_ms', now_s) == 1 then
    local sd = tonumber(redis.call('HGET', c.ck, 'sign_due_ms') or '')
    if sd then
      local r = 'sign|late'
      if now <= sd then r = 'sign|on_time' end
      redis.call('HINCRBY', key('stats'), r, 1)
    end
  end
  sla_now(c, now_s)
  return 'claimed'
end

E['release'] = function(c, a, actor, role, now, now_s)
  redis.call('HDEL', c.ck, 'claimed_by', 'claimed_ms', 'lease_expires_ms')
  sla_now(c, now_s)
  return 'dispatched'
end

E['escalate'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'case_ref', a.case_ref, 'escalated_ms', now_s)
  redis.call('HDEL', c.ck, 'lease_expires_ms')
  sla_now(c, now_s)
  return 'investigating'
end

E['suspend'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'suspended_ms', now_s, 'suspend_reason', a.reason_code)
  redis.call('HDEL', c.ck, 'lease_expires_ms')
  redis.call('ZREM', key('sla'), c.id)
  redis.call('HINCRBY', key('stats'), 'suspensions|' .. a.reason_code, 1)
  return 'suspended'
end

E['resume'] = function(c, a, actor, role, now, now_s)
  local paused = now - num(redis.call('HGET', c.ck, 'suspended_ms'))
  if paused < 0 then paused = 0 end
  redis.call('HINCRBY', c.ck, 'paused_ms', paused)
  redis.call('HINCRBY', key('stats'), 'paused_ms', paused)
  for _, f in ipairs({'due_ms', 'sign_due_ms', 'ext_new_due_ms'}) do
    local v = tonumber(redis.call('HGET', c.ck, f) or '')
    if v then hset(c.ck, f, int(v + paused)) end
  end
  redis.call('HDEL', c.ck, 'suspended_ms', 'suspend_reason')
  lease(c.ck, now)
  sla_now(c, now_s)
  return 'claimed'
end

E['request_extension'] = function(c, a, actor, role, now, now_s)
  local st, t = c.idx.status, c.tracked
  local terms = cjson.decode(redis.call('HGET', c.ck, 'sla') or '{}')
  if t.ext_new_due_ms ~= '' then return nil, {'ERR', 'EXTENSION_PENDING', st} end
  if num(t.extension_count) >= num(terms.max_extensions) then
    return nil, {'ERR', 'NO_MORE_EXTENSIONS', st, tostring(num(terms.max_extensions))}
  end
  if num(a.days) > num(terms.max_extension_days) then
    return nil, {'ERR', 'EXTENSION_TOO_LONG', st, tostring(num(terms.max_extension_days))}
  end
  if now > num(t.due_ms) then return nil, {'ERR', 'TOO_LATE', st, t.due_ms} end
  hset(c.ck, 'ext_days', a.days, 'ext_new_due_ms', a.new_due_ms, 'ext_reason', a.reason,
       'ext_requested_by', actor, 'ext_estimated', a.estimated)
  return st
end

E['decide_extension'] = function(c, a, actor, role, now, now_s)
  local st, t = c.idx.status, c.tracked
  if t.ext_new_due_ms == '' then return nil, {'ERR', 'NO_EXTENSION', st} end
  local requester = redis.call('HGET', c.ck, 'ext_requested_by')
  if requester == actor then return nil, {'ERR', 'OWN_EXTENSION', st, actor} end
  if a.decision == 'approve' then
    hset(c.ck, 'due_ms', t.ext_new_due_ms)
    redis.call('HINCRBY', c.ck, 'extension_count', 1)
    estimated(c.ck, redis.call('HGET', c.ck, 'ext_estimated'))
  end
  redis.call('HINCRBY', key('stats'), 'extensions|' .. a.decision, 1)
  redis.call('HDEL', c.ck, 'ext_days', 'ext_new_due_ms', 'ext_reason', 'ext_requested_by',
             'ext_estimated')
  sla_now(c, now_s)
  return st
end

E['dispose'] = function(c, a, actor, role, now, now_s)
  local refs = append_refs(c.ck, a.evidence_refs)
  if EVIDENCE_REQUIRED[a.code] and #refs == 0 then
    return nil, {'ERR', 'NEEDS_EVIDENCE', c.idx.status, a.code}
  end
  if #refs > 0 then hset(c.ck, 'evidence_refs', cjson.encode(refs)) end
  hset(c.ck, 'disposed_by', actor, 'disposed_ms', now_s, 'disposition_code', a.code,
       'outcome', a.outcome, 'sub_reason', a.sub_reason, 'note', a.note)
  redis.call('HDEL', c.ck, 'lease_expires_ms')
  redis.call('XADD', key('outbox'), '*', 'kind', 'disposition', 'key', c.id, 'value', ARGV[9])
  return 'disposed'
end

E['submit'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'submitted_ms', now_s)
  return 'reviewing'
end

local function same_person(c, actor)
  return redis.call('HGET', c.ck, 'disposed_by') == actor
end

E['approve'] = function(c, a, actor, role, now, now_s)
  if same_person(c, actor) then return nil, {'ERR', 'SAME_PERSON', c.idx.status} end
  local f = redis.call('HMGET', c.ck, 'disposed_ms', 'due_ms', 'paused_ms', 'rule_id',
                       'disposition_code')
  local done, due = num(f[1]), num(f[2])
  local ontime, honest = 'dispose|late', 'dispose_unpaused|late'
  if done <= due then ontime = 'dispose|on_time' end
  if done <= due - num(f[3]) then honest = 'dispose_unpaused|on_time' end
  redis.call('HINCRBY', key('stats'), ontime, 1)
  redis.call('HINCRBY', key('stats'), honest, 1)
  redis.call('HINCRBY', key('stats', 'dispositions'), f[4] .. '|' .. f[5], 1)
  hset(c.ck, 'closed_ms', now_s, 'closed_by', actor, 'reviewed_by', actor)
  return 'closed'
end

E['reject'] = function(c, a, actor, role, now, now_s)
  if same_person(c, actor) then return nil, {'ERR', 'SAME_PERSON', c.idx.status} end
  local n = redis.call('HINCRBY', c.ck, 'rework_count', 1)
  redis.call('HDEL', c.ck, 'disposition_code', 'outcome', 'sub_reason', 'disposed_ms',
             'submitted_ms')
  hset(c.ck, 'claimed_ms', now_s, 'reviewed_by', actor)
  lease(c.ck, now)
  redis.call('HINCRBY', key('stats'), 'rework', 1)
  sla_now(c, now_s)
  if n >= REWORK_TICKET then open_ticket(c, now_s, math.max(num(c.tracked.escalation_level), 1),
                                         'rework') end
  return 'claimed'
end

E['dismiss'] = function(c, a, actor, role, now, now_s)
  hset(c.ck, 'disposed_by', actor, 'disposed_ms', now_s, 'disposition_code', a.code,
       'outcome', a.outcome, 'sub_reason', a.sub_reason, 'note', a.note, 'closed_ms', now_s,
       'closed_by', actor)
  local rule = redis.call('HGET', c.ck, 'rule_id')
  redis.call('HINCRBY', key('stats', 'dispositions'), rule .. '|' .. a.code, 1)
  redis.call('XADD', key('outbox'), '*', 'kind', 'disposition', 'key', c.id, 'value', ARGV[9])
  return 'closed'
end

E['merge'] = function(c, a, actor, role, now, now_s)
  local st, into = c.idx.status, a.into
  if into == c.id then return nil, {'ERR', 'MERGE_SELF', st} end
  local tk = ckey(into)
  local t = redis.call('HMGET', tk, 'status', 'department')
  if not t[1] then return nil, {'ERR', 'TARGET_NOT_FOUND', st, into} end
  if not OPEN[t[1]] then return nil, {'ERR', 'TARGET_CLOSED', st, into, t[1]} end
  if t[2] ~= a.into_department then return nil, {'ERR', 'CONFLICT', st, 'target moved'} end
  local tc = begin(into)
  redis.call('HINCRBY', tk, 'warning_count', num(redis.call('HGET', c.ck, 'warning_count')))
  local mf = cjson.decode(redis.call('HGET', tk, 'merged_from') or '[]')
  mf[#mf + 1] = c.id
  hset(tk, 'merged_from', cjson.encode(mf))
  hset(c.ck, 'merged_into', into)
  redis.call('HSET', key('fp', redis.call('HGET', c.ck, 'fingerprint')), 'clue_id', into)
  finish(tc, 'absorb', actor, role, now_s, 'absorbed ' .. c.id, true)
  return 'merged'
end

E['comment'] = function(c) return c.idx.status end
E['reveal'] = function(c) return c.idx.status end

E['label'] = function(c, a)
  local have, out = {}, {}
  for _, l in ipairs(cjson.decode(redis.call('HGET', c.ck, 'labels') or '[]')) do have[l] = true end
  for _, l in ipairs(cjson.decode(a.add or '[]')) do have[l] = true end
  for _, l in ipairs(cjson.decode(a.remove or '[]')) do have[l] = nil end
  for l, _ in pairs(have) do out[#out + 1] = l end
  table.sort(out)
  if #out == 0 then redis.call('HDEL', c.ck, 'labels')
  else hset(c.ck, 'labels', cjson.encode(out)) end
  return c.idx.status
end

E['evidence'] = function(c, a)
  hset(c.ck, 'evidence_refs', cjson.encode(append_refs(c.ck, a.evidence_refs)))
  return c.idx.status
end

-- per call: every check, then the action's effects, then finish
local id, action, actor, role, now_s, expect = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
                                               ARGV[7]
local now = tonumber(now_s)
local a = cjson.decode(ARGV[8])
local ck = ckey(id)
local fields = {'status', 'version', 'claimed_by', 'lease_expires_ms', 'disposition_code',
                'disposed_by'}
local cur = redis.call('HMGET', ck, unpack(fields))
if not cur[1] then return {'ERR', 'NOT_FOUND'} end
if not E[action] or not ROLES[action][role] then return {'ERR', 'FORBIDDEN', cur[1], role} end
local scope = cjson.decode(ARGV[10])
local where = redis.call('HMGET', ck, 'department', 'region')
if scope.departments and not scope.departments[where[1]] then
  return {'ERR', 'OUT_OF_SCOPE', cur[1]}
end
if scope.regions then
  local inside = false
  for _, p in ipairs(scope.regions) do
    if string.sub(where[2] or '', 1, #p) == p then inside = true; break end
  end
  if not inside then return {'ERR', 'OUT_OF_SCOPE', cur[1]} end
end
if expect ~= '' and expect ~= cur[2] then return {'ERR', 'CONFLICT', cur[1], cur[2]} end
local expired = '0'
if cur[1] == 'claimed' and num(cur[4]) <= now then
  expire(id, now_s)
  expired = '1'
  cur = redis.call('HMGET', ck, unpack(fields))
end
local st = cur[1]
if not SOURCES[action][st] then
  return {'ERR', 'BAD_STATE', st, cur[3] or '', cur[5] or '', cur[6] or '', expired}
end
if HOLDER[action] and (cur[3] or '') ~= actor and not OVERRIDE[action][role] then
  return {'ERR', 'NOT_HOLDER', st, cur[3] or '', expired}
end
local c = begin(id)
local to, err = E[action](c, a, actor, role, now, now_s)
if not to then return err end
if to ~= st then redis.call('HSET', ck, 'status', to) end
if RENEWS[action] and to == 'claimed' and redis.call('HGET', ck, 'claimed_by') == actor then
  lease(ck, now)
end
finish(c, action, actor, role, now_s, a.reason or '', not READONLY[action])
return {'OK', expired, unpack(redis.call('HGETALL', ck))}

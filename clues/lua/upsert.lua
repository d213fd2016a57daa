-- Ingest: one warning merged into its open clue, or a new clue opened.
-- ARGV: P, warning_id, fingerprint, ts_ms, severity_rank, severity, then two JSON arrays of
--       alternating field names and string values: identity fields (set when a clue opens)
--       and content fields (refreshed by the newest warning by event time). All values are
--       strings, so cjson never turns a number into a rounded double.
-- Returns {'new' | 'merged' | 'duplicate', clue_id}.

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

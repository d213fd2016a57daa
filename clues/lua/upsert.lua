-- Ingest: a batch of warnings, each merged into its open clue or opening a new clue, in
-- order, exactly as if each had been a call of its own (same clue ids, counts, audit and
-- outbox entries); a warning id already seen is a no-op, so a re-sent batch changes nothing.
-- ARGV: P, then one JSON array of warnings, each [warning_id, fingerprint, ts_ms,
--       severity_rank, severity, identity, content]: identity and content are arrays of
--       alternating field names and string values, identity fields set when a clue opens,
--       content fields refreshed by the newest warning by event time. All values are
--       strings, so cjson never turns a number into a rounded double.
-- Returns one 'new' | 'merged' | 'duplicate' per warning, in order. The caller bounds the
-- batch (clues.store.CHUNK), so one call never holds Redis for long.

local function merge(cid, wid, ts_s, rank_s, severity, content)
  local ts, rank = tonumber(ts_s), tonumber(rank_s)
  local c = begin(cid)
  local f = c.fields
  if not OPEN[f.status] then return false end
  -- audited like any step (the count and seen times before/after), so the trail accounts
  -- for every version; a warning of a higher severity also raises the clue's priority
  local ck = c.ck
  local set = {'warning_count', int(num(f.warning_count) + 1), 'version', int(num(f.version) + 1)}
  local function put(...) for _, x in ipairs({...}) do set[#set + 1] = x end end
  if ts < num(f.first_seen_ms) then put('first_seen_ms', ts_s) end
  if ts >= num(f.last_seen_ms) then
    put('last_seen_ms', ts_s)
    put(unpack(content))
  end
  local action, why = 'merge_warning', 'warning ' .. wid
  if rank > num(f.severity_rank) then
    put('severity', severity, 'severity_rank', rank_s)
    if rank > num(f.priority) then put('priority', rank_s) end
    action, why = 'raise_priority', why .. ': ' .. severity
  end
  redis.call('HSET', ck, unpack(set))
  redis.call('LPUSH', ck .. ':warnings', wid)
  redis.call('LTRIM', ck .. ':warnings', 0, WARNINGS_LAST)
  finish(c, action, 'system', 'system', ts_s, why, false)
  return true
end

local function open(fpkey, prev, gen, w)
  local wid, fp, ts_s, rank_s, severity, ident, content = unpack(w)
  local ts, rank = tonumber(ts_s), tonumber(rank_s)
  local id = 'clue-' .. string.sub(redis.sha1hex(fp .. '\31' .. int(gen)), 1, 20)
  local ck = ckey(id)
  local prio, repeat_of = rank, ''
  local fields = {unpack(ident)}  -- identity then content, in one HSET as in two
  for _, x in ipairs(content) do fields[#fields + 1] = x end
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
             'updated_ms', ts_s, 'previous_clue_id', prev, 'repeat_of', repeat_of,
             unpack(fields))
  redis.call('HSET', fpkey, 'clue_id', id, 'generation', int(gen))
  redis.call('LPUSH', ck .. ':warnings', wid)
  local c = {id = id, ck = ck, idx = EMPTY_IDX, tracked = EMPTY_TRACKED}
  local why = 'warning ' .. wid
  if repeat_of ~= '' then why = why .. ', repeat of ' .. repeat_of end
  finish(c, 'open', 'system', 'system', ts_s, why, false)
end

local function upsert(w)
  local wid, fp = w[1], w[2]
  local fpkey = key('fp', fp)
  if redis.call('SADD', fpkey .. ':seen', wid) == 0 then return 'duplicate' end
  local cur = redis.call('HMGET', fpkey, 'clue_id', 'generation')
  local prev, gen = '', 0
  if cur[1] then
    if merge(cur[1], wid, w[3], w[4], w[5], w[7]) then return 'merged' end
    prev, gen = cur[1], tonumber(cur[2]) + 1
  end
  open(fpkey, prev, gen, w)
  return 'new'
end

local results = {}
for i, w in ipairs(cjson.decode(ARGV[2])) do results[i] = upsert(w) end
return results

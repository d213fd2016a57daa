-- Ingest: warnings merged into their fingerprint's open clue, or opening a clue, one step per
-- fingerprint in the call; a warning id the fingerprint has already seen is a no-op, so a
-- re-sent batch changes nothing and every clue's warning count is exact.
-- ARGV: P, then one JSON array of groups, each [fingerprint, identity, rows]: identity is an
--       array of alternating field names and values (set when a clue opens), rows are the
--       group's warnings in batch order, each [warning_id, ts_ms, severity_rank, severity,
--       n]: ARGV[n] is the warning's content (a JSON array of alternating field names and
--       values), read only for the newest new warning of its group. All values are strings,
--       so cjson never turns a number into a rounded double.
-- One step per group, whatever the order of its rows, leaving the clue as its new warnings
-- applied one by one in event-time order would: warning_count + the new ids, first and last
-- seen = the earliest and latest of them, content of the newest (on a tie the later in the
-- batch), severity and priority raised to the highest; audited and published as one step
-- (open, merge_warning or raise_priority) naming its warnings; the views count each of them
-- on its own event day (clues/lua/views.lua). The ids go on the clue's list of warnings in
-- batch order.
-- Returns one 'new' | 'merged' | 'duplicate' per row, groups in order: the first new row of a
-- group that opened a clue is 'new'. The caller bounds the call (clues.store.CHUNK rows).

-- the group's rows whose ids its fingerprint had not seen (now marked seen), and a summary
local function fresh(fp, rows, out)
  local seen = key('fp', fp, 'seen')
  local g = {ids = {}, slots = {}, rank = -1, rows = {}}
  for i, r in ipairs(rows) do
    out[#out + 1] = 'duplicate'
    if redis.call('SADD', seen, r[1]) == 1 then
      local ts, rank = tonumber(r[2]), tonumber(r[3])
      g.ids[#g.ids + 1], g.slots[#g.slots + 1] = r[1], #out
      g.rows[#g.rows + 1] = {r[2], rank, r[4], ts, i}
      out[#out] = 'merged'
      if g.min == nil or ts < g.min then g.min, g.min_s, g.first_rank = ts, r[2], rank end
      if g.max == nil or ts >= g.max then g.max, g.max_s, g.content = ts, r[2], r[5] end
      if rank > g.rank then g.rank, g.rank_s, g.severity = rank, r[3], r[4] end
    end
  end
  return g
end

-- the group's new rows in event-time order, on a tie in batch order (for the views)
local function in_time(g)
  local rows = g.rows
  if #rows > 1 then
    table.sort(rows, function(x, y) return x[4] < y[4] or (x[4] == y[4] and x[5] < y[5]) end)
  end
  return rows
end

local function reason(g)
  local ids = g.ids
  if #ids == 1 then return 'warning ' .. ids[1] end
  local shown = {unpack(ids, 1, math.min(#ids, 10))}
  local why = #ids .. ' warnings ' .. table.concat(shown, ', ')
  if #ids > 10 then why = why .. ', …' end
  return why
end

local function content(g) return cjson.decode(ARGV[g.content]) end

-- the group's ids on the clue's list of its latest warnings (a new clue's list is new)
local function push_ids(ck, g, fresh_list)
  local n = #g.ids
  redis.call('LPUSH', ck .. ':warnings', unpack(g.ids, math.max(1, n - WARNINGS_LAST), n))
  if not fresh_list then redis.call('LTRIM', ck .. ':warnings', 0, WARNINGS_LAST) end
end

local function merge(cid, g)
  local ck = ckey(cid)
  local s, _, idx, tracked = state(ck)
  if not OPEN[s.status] then return false end
  -- s becomes the state after the step: its indexes, audit and outbox record follow from it
  local set = {}
  local function put(f, v) set[#set + 1] = f; set[#set + 1] = v; s[f] = v end
  local v = num(s.version) + 1
  put('warning_count', int(num(s.warning_count) + #g.ids))
  put('version', int(v))
  if g.min < num(s.first_seen_ms) then put('first_seen_ms', g.min_s) end
  if g.max >= num(s.last_seen_ms) then
    put('last_seen_ms', g.max_s)
    for _, x in ipairs(content(g)) do set[#set + 1] = x end
  end
  local action, why = 'merge_warning', reason(g)
  if g.rank > num(s.severity_rank) then
    put('severity', g.severity)
    put('severity_rank', g.rank_s)
    if g.rank > num(s.priority) then put('priority', g.rank_s) end
    action, why = 'raise_priority', why .. ': ' .. g.severity
  end
  views_warnings(ck, in_time(g), false)
  redis.call('HSET', ck, unpack(set))
  push_ids(ck, g, false)
  record({id = cid, idx = idx, tracked = tracked}, s, s, action, 'system', 'system', g.max_s,
         why, v)
  return true
end

local function open(fp, prev, gen, ident, g)
  local id = 'clue-' .. string.sub(redis.sha1hex(fp .. '\31' .. int(gen)), 1, 20)
  local ck = ckey(id)
  local prio, repeat_of = g.rank, ''
  if prev ~= '' then
    -- a repeat: one above the old clue's priority or the earliest warning's severity, as if
    -- the earliest had opened it; a higher severity among the others raises it further
    local p = redis.call('HMGET', ckey(prev), 'priority', 'last_seen_ms', 'status')
    if p[3] == 'closed' and g.min - num(p[2]) <= REPEAT_WINDOW then
      prio = math.max(math.min(math.max(g.first_rank, num(p[1])) + 1, MAX_PRIO), g.rank)
      repeat_of = prev
    end
    redis.call('HSET', ckey(prev), 'next_clue_id', id)
  end
  local f = {'id', id, 'fingerprint', fp, 'generation', int(gen), 'status', 'new',
             'severity', g.severity, 'severity_rank', g.rank_s, 'priority', int(prio),
             'first_seen_ms', g.min_s, 'last_seen_ms', g.max_s,
             'warning_count', int(#g.ids), 'version', '1', 'updated_ms', g.min_s,
             'previous_clue_id', prev, 'repeat_of', repeat_of, unpack(ident)}
  for _, x in ipairs(content(g)) do f[#f + 1] = x end
  redis.call('HSET', ck, unpack(f))
  redis.call('HSET', key('fp', fp), 'clue_id', id, 'generation', int(gen))
  push_ids(ck, g, true)
  views_warnings(ck, in_time(g), true)
  -- the state after the step is what was just written, every other field absent ('')
  local a = {}
  for _, n in ipairs(STATE) do a[n] = '' end
  for i = 1, #f, 2 do a[f[i]] = f[i + 1] end
  local why = reason(g)
  if repeat_of ~= '' then why = why .. ', repeat of ' .. repeat_of end
  local c = {id = id, idx = EMPTY_IDX, tracked = EMPTY_TRACKED}
  record(c, a, a, 'open', 'system', 'system', g.min_s, why, 1)
end

local function upsert(group, out)
  local fp, ident, rows = unpack(group)
  local g = fresh(fp, rows, out)
  if #g.ids == 0 then return end
  local cur = redis.call('HMGET', key('fp', fp), 'clue_id', 'generation')
  local prev, gen = '', 0
  if cur[1] then
    if merge(cur[1], g) then return end
    prev, gen = cur[1], tonumber(cur[2]) + 1
  end
  open(fp, prev, gen, ident, g)
  out[g.slots[1]] = 'new'
end

-- per call
LATER, VIEWS_LATER = {z = {}, backlog = {}}, {n = {}, days = {}}
local out = {}
for _, group in ipairs(cjson.decode(ARGV[2])) do upsert(group, out) end
flush_later()
views_flush()
return out

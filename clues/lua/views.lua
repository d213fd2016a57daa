-- Event-time risk views: counters the supervisor views read (clues.views), kept in the same
-- atomic script call as the step they count, so a warning counts exactly once (a duplicate
-- never gets this far) and a crash cannot count a step that did not happen. The upsert
-- script counts the warnings of each of its steps (views_warnings, each warning on its own
-- day, however many one step carries); the other steps end in finish (the prelude), which
-- counts a clue that closes (views_step).
--
-- Per local day (UTC+8) of the event time, a HASH P:views:day:{day} (day = days since
-- 1970-01-01 local) with fields joined by \31:
--   w \31 region \31 department \31 rule \31 severity   warnings merged or opening a clue
--   c \31 region \31 department \31 rule \31 severity   clues opened
--   o \31 region \31 department \31 rule \31 outcome    clues closed with a verdict, by the
--                                                       day of their first warning
-- P:views:keys:{day}  HASH  region \31 department \31 rule \31 key -> warnings that day
-- P:views:days        ZSET  the days that have counters (score = member = day)
-- A warning's severity there is the clue's after it, as if the step's warnings had come one
-- by one in event-time order (on a tie in batch order).
-- Defined before the prelude: it builds its key names from ARGV[1] itself.
local VIEWS_TZ_MS, VIEWS_DAY_MS = 8 * 3600000, 86400000

local function views_day(ts_s)
  return string.format('%d', math.floor((tonumber(ts_s) + VIEWS_TZ_MS) / VIEWS_DAY_MS))
end

-- counts go to Redis at once, or wait in VIEWS_LATER (the upsert script sets it) until
-- views_flush writes one HINCRBY per field and one ZADD of the days for the whole call
local VIEWS_LATER = nil
local function views_count(k, field, by, day)
  if VIEWS_LATER == nil then
    redis.call('HINCRBY', k, field, by)
    redis.call('ZADD', ARGV[1] .. ':views:days', day, day)
    return
  end
  local t = VIEWS_LATER.n[k]
  if t == nil then t = {}; VIEWS_LATER.n[k] = t end
  t[field] = (t[field] or 0) + by
  VIEWS_LATER.days[day] = true
end

local function views_flush()
  for k, t in pairs(VIEWS_LATER.n) do
    for field, by in pairs(t) do redis.call('HINCRBY', k, field, by) end
  end
  local days = {}
  for day, _ in pairs(VIEWS_LATER.days) do days[#days + 1] = day; days[#days + 1] = day end
  if #days > 0 then redis.call('ZADD', ARGV[1] .. ':views:days', unpack(days)) end
  VIEWS_LATER = nil
end

-- one step's warnings, rows = {ts_s, severity_rank, severity} in event-time order, for the
-- clue at ck: read before a merge writes (its severity is where the rows start from), after
-- an open wrote (opened: the first row opened it)
local function views_warnings(ck, rows, opened)
  local P = ARGV[1]
  local f = redis.call('HMGET', ck, 'region', 'department', 'rule_id', 'key', 'severity',
                       'severity_rank')
  local where = table.concat({f[1] or '', f[2] or '', f[3] or ''}, '\31')
  local rank, severity = tonumber(f[6]) or -1, f[5] or ''
  if opened then rank = -1 end
  for i, r in ipairs(rows) do
    local day = views_day(r[1])
    local dk = P .. ':views:day:' .. day
    if r[2] > rank then rank, severity = r[2], r[3] end
    views_count(dk, 'w\31' .. where .. '\31' .. severity, 1, day)
    if opened and i == 1 then views_count(dk, 'c\31' .. where .. '\31' .. severity, 1, day) end
    views_count(P .. ':views:keys:' .. day, where .. '\31' .. (f[4] or ''), 1, day)
  end
end

-- a step of another script: a clue that closes counts its outcome
local function views_step(ck, from, to)
  if to == 'closed' and from ~= 'closed' then
    local f = redis.call('HMGET', ck, 'region', 'department', 'rule_id', 'outcome',
                         'first_seen_ms')
    local day = views_day(f[5] or '0')
    local field = table.concat({'o', f[1] or '', f[2] or '', f[3] or '', f[4] or ''}, '\31')
    views_count(ARGV[1] .. ':views:day:' .. day, field, 1, day)
  end
end

-- Event-time risk views: counters the supervisor views read (clues.views), kept by the one
-- call at the end of every step (finish, in the prelude), in the same atomic script call as
-- the step itself, so a warning counts exactly once (a duplicate never gets this far) and a
-- crash cannot count a step that did not happen.
--
-- Per local day (UTC+8) of the event time, a HASH P:views:day:{day} (day = days since
-- 1970-01-01 local) with fields joined by \31:
--   w \31 region \31 department \31 rule \31 severity   warnings merged or opening a clue
--   c \31 region \31 department \31 rule \31 severity   clues opened
--   o \31 region \31 department \31 rule \31 outcome    clues closed with a verdict, by the
--                                                       day of their first warning
-- P:views:keys:{day}  HASH  region \31 department \31 rule \31 key -> warnings that day
-- P:views:days        ZSET  the days that have counters (score = member = day)
-- Defined before the prelude: it builds its key names from ARGV[1] itself.
local VIEWS_TZ_MS, VIEWS_DAY_MS = 8 * 3600000, 86400000
local VIEWS_WARNING = {open = true, merge_warning = true, raise_priority = true}

local function views_day(ts_s)
  return string.format('%d', math.floor((tonumber(ts_s) + VIEWS_TZ_MS) / VIEWS_DAY_MS))
end

local function views_step(ck, action, now_s, from, to)
  local P = ARGV[1]
  if VIEWS_WARNING[action] then
    local f = redis.call('HMGET', ck, 'region', 'department', 'rule_id', 'severity', 'key')
    local day = views_day(now_s)
    local where = table.concat({f[1] or '', f[2] or '', f[3] or ''}, '\31')
    local dk = P .. ':views:day:' .. day
    redis.call('HINCRBY', dk, 'w\31' .. where .. '\31' .. (f[4] or ''), 1)
    if action == 'open' then
      redis.call('HINCRBY', dk, 'c\31' .. where .. '\31' .. (f[4] or ''), 1)
    end
    redis.call('HINCRBY', P .. ':views:keys:' .. day, where .. '\31' .. (f[5] or ''), 1)
    redis.call('ZADD', P .. ':views:days', day, day)
  elseif to == 'closed' and from ~= 'closed' then
    local f = redis.call('HMGET', ck, 'region', 'department', 'rule_id', 'outcome',
                         'first_seen_ms')
    local day = views_day(f[5] or '0')
    local field = table.concat({'o', f[1] or '', f[2] or '', f[3] or '', f[4] or ''}, '\31')
    redis.call('HINCRBY', P .. ':views:day:' .. day, field, 1)
    redis.call('ZADD', P .. ':views:days', day, day)
  end
end

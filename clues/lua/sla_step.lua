-- The deadline ticker's writes.
-- ARGV: P, now_ms, JSON list of {id, version, colour, escalate ('1'|'0'), next (ms)} decided
-- by the ticker in Python (it owns the calendar). A clue that changed since the ticker read
-- it is skipped and looked at again on the next tick. Returns how many were applied.

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

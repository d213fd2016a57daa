-- The reaper.
-- ARGV: P, now_ms, limit. Returns the ids whose lease ran out (back in their department queue).

local ids = redis.call('ZRANGE', key('q', 'claimed'), '-inf', ARGV[2], 'BYSCORE',
                       'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do expire(id, ARGV[2]) end
return ids

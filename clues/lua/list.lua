-- The list script: walk one index in order, keep the clues that pass every filter.
--
-- A page costs O(log n + scanned entries): the walk starts at the cursor's rank and stops
-- after limit matches or max_scan entries, whichever comes first (clues.listing picks the
-- index and the filters).
--
-- ARGV: P, index key, reverse ('1'|'0'), cursor score, cursor member ('' = first page),
--       limit, max entries to scan, JSON filters {status:{s:true}, departments:{d:true},
--       regions:[prefix], region, rule, colour, assignee} (absent = any).
-- Returns {more ('1'|'0'), last score, last member, ids...}: the page may hold fewer than
-- limit ids when max_scan entries did not match enough; "more" says whether to go on.

local zkey, rev, cs, cm = ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5]
local limit, max_scan = tonumber(ARGV[6]), tonumber(ARGV[7])
local F = cjson.decode(ARGV[8])

local function starts(s, p) return string.sub(s, 1, #p) == p end
local function match(h)
  if not h[1] then return false end
  if F.status and not F.status[h[1]] then return false end
  if F.departments and not F.departments[h[2] or ''] then return false end
  if F.regions then
    local ok = false
    for _, p in ipairs(F.regions) do if starts(h[3] or '', p) then ok = true; break end end
    if not ok then return false end
  end
  if F.region and not starts(h[3] or '', F.region) then return false end
  if F.rule and h[4] ~= F.rule then return false end
  if F.colour and h[5] ~= F.colour then return false end
  if F.assignee and h[6] ~= F.assignee then return false end
  return true
end

local pos = 0
if cm ~= '' then
  local r
  if rev then r = redis.call('ZREVRANK', zkey, cm) else r = redis.call('ZRANK', zkey, cm) end
  local s = redis.call('ZSCORE', zkey, cm)
  if r and s and tonumber(s) == tonumber(cs) then
    pos = r + 1
  else  -- the member moved away: start after everything ordered before (score, member)
    if rev then pos = redis.call('ZCOUNT', zkey, '(' .. cs, '+inf')
    else pos = redis.call('ZCOUNT', zkey, '-inf', '(' .. cs) end
    for _, m in ipairs(redis.call('ZRANGE', zkey, cs, cs, 'BYSCORE')) do
      if (rev and m > cm) or (not rev and m < cm) then pos = pos + 1 end
    end
  end
end

local out, scanned, last_s, last_m, last_pos = {'0', '', ''}, 0, '', '', pos - 1
while #out - 3 < limit and scanned < max_scan do
  local rows
  if rev then rows = redis.call('ZRANGE', zkey, pos, pos + 99, 'REV', 'WITHSCORES')
  else rows = redis.call('ZRANGE', zkey, pos, pos + 99, 'WITHSCORES') end
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local m = rows[i]
    scanned, last_m, last_s, last_pos = scanned + 1, m, rows[i + 1], pos + (i - 1) / 2
    local h = redis.call('HMGET', ckey(m), 'status', 'department', 'region', 'rule_id',
                         'colour', 'claimed_by')
    if match(h) then out[#out + 1] = m end
    if #out - 3 >= limit or scanned >= max_scan then break end
  end
  pos = pos + 100
end
if redis.call('ZCARD', zkey) > last_pos + 1 and last_m ~= '' then out[1] = '1' end
out[2], out[3] = last_s, last_m
return out

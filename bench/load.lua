-- wrk script: 50 users' bearer tokens in rotation, a weighted mix of operations.
-- Env: BENCH_USERS (file, a line per user: "user_id token task_ids spare_task_ids", ids comma-separated),
--      BENCH_MIX (weights, e.g. "list=70,create=10,remove=10,get=10"),
--      BENCH_FIELDS ("plain", or "organized": creates carry a priority, two tags and a due date),
--      BENCH_PREFIX ("/api/", or "/floor/": the same requests to the floor app's copies of the routes).
-- Run with 2 threads (-t2): the full-CRUD deletes are split by thread.
-- "remove" deletes a task this thread created earlier in the run (the oldest first), so creates and
-- removes together keep every list at its seeded length: a steady workload.

local users = {}
for line in io.lines(os.getenv("BENCH_USERS")) do
  local id, token, tasks, spare = line:match("^(%S+) (%S+) (%S*) ?(%S*)$")
  local ids, spares = {}, {}
  for n in tasks:gmatch("%d+") do ids[#ids + 1] = n end
  for n in (spare or ""):gmatch("%d+") do spares[#spares + 1] = n end
  users[#users + 1] = { id = id, auth = "Bearer " .. token, tasks = ids, spare = spares }
end
local by_id = {}
for _, user in ipairs(users) do by_id[user.id] = user end

local mix, total = {}, 0
for name, weight in os.getenv("BENCH_MIX"):gmatch("(%a+)=(%d+)") do
  total = total + tonumber(weight)
  mix[#mix + 1] = { name = name, upto = total }
end

local prefix = os.getenv("BENCH_PREFIX") or "/api/"
local counter = 0
local body = '{"title":"Benchmark task","description":"created by wrk"}'
if os.getenv("BENCH_FIELDS") == "organized" then
  body = '{"title":"Benchmark task","description":"created by wrk","priority":"high",'
    .. '"tags":["work","bench"],"due_date":"2026-12-24T17:00","time_zone":"Europe/Berlin"}'
end
local created = {} -- tasks this thread created: { user, id }, oldest first
local update = '{"title":"Benchmark task (edited)","completed":true}'

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

local function pick(list) return list[math.random(#list)] end

request = function()
  counter = counter + 1
  local user = users[counter % #users + 1]
  local base = prefix .. user.id .. "/tasks"
  local headers = { ["Authorization"] = user.auth }
  local roll, op = math.random(total), nil
  for _, entry in ipairs(mix) do
    if roll <= entry.upto then op = entry.name break end
  end
  if op == "remove" then
    local task = table.remove(created, 1)
    if task then
      return wrk.format("DELETE", prefix .. task.user.id .. "/tasks/" .. task.id, { ["Authorization"] = task.user.auth })
    end
    op = "create" -- nothing of ours to remove yet
  end
  if op == "list" then
    return wrk.format("GET", base, headers)
  elseif op == "get" then
    return wrk.format("GET", base .. "/" .. pick(user.tasks), headers)
  elseif op == "toggle" then
    return wrk.format("PATCH", base .. "/" .. pick(user.tasks) .. "/complete", headers)
  elseif op == "update" then
    headers["Content-Type"] = "application/json"
    return wrk.format("PUT", base .. "/" .. pick(user.tasks), headers, update)
  elseif op == "delete" then
    -- Each thread deletes its own share of the user's spare tasks, each exactly once.
    user.deleted = (user.deleted or 0) + 1
    local id = user.spare[user.deleted * 2 - 1 + (thread_index or 0)]
    return wrk.format("DELETE", base .. "/" .. (id or "0"), headers)
  elseif op == "hello" then
    return wrk.format("GET", "/hello")
  elseif op == "floor" then
    return wrk.format("GET", "/floor")
  elseif op == "floorlist" then -- the floor app, the same list statement, no auth
    return wrk.format("GET", "/floor/" .. user.id .. "/tasks")
  else -- create
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", base, headers, body)
  end
end

statuses = {} -- global: done() reads each thread's copy
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local id, user = body:match('^{"id":(%d+),"user_id":"([^"]+)"')
    if id and by_id[user] then created[#created + 1] = { user = by_id[user], id = id } end
  end
end

local threads = {}
setup = function(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

done = function(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do by_status[status] = (by_status[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(by_status) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end

-- A mix for the soak run (script/bench --soak): per request, at random, 60 % GET
-- /tasks/?limit=10&skip=0..999, 20 % GET /tasks/{id}, 10 % POST /tasks/, 10 % PATCH
-- /tasks/{id}?completed=true, so every allocation path of taskapi keeps running.
-- args: [ID_MAX=10000]
local id_max = 10000
local post_headers = { ["Content-Type"] = "application/json" }
local post_body = '{"title":"Benchmark task","description":"created by script/bench","is_completed":false}'

function init(args)
  bench_seed()
  id_max = bench_arg(args, 1, id_max)
end

function request()
  local r = math.random(1, 10)
  if r <= 6 then
    return wrk.format("GET", "/tasks/?limit=10&skip=" .. math.random(0, 999))
  elseif r <= 8 then
    return wrk.format("GET", "/tasks/" .. math.random(1, id_max))
  elseif r == 9 then
    return wrk.format("POST", "/tasks/", post_headers, post_body)
  end
  return wrk.format("PATCH", "/tasks/" .. math.random(1, id_max) .. "?completed=true")
end

-- GET /tasks/?limit=10&skip=<random 0..SKIP_MAX>   args: [SKIP_MAX=999] [LIMIT=10]
local skip_max, limit = 999, 10

function init(args)
  bench_seed()
  skip_max = bench_arg(args, 1, skip_max)
  limit = bench_arg(args, 2, limit)
end

function request()
  return wrk.format("GET", "/tasks/?limit=" .. limit .. "&skip=" .. math.random(0, skip_max))
end

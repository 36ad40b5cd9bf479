-- GET /tasks/<random id 1..ID_MAX>   args: [ID_MAX=10000]
local id_max = 10000

function init(args)
  bench_seed()
  id_max = bench_arg(args, 1, id_max)
end

function request()
  return wrk.format("GET", "/tasks/" .. math.random(1, id_max))
end

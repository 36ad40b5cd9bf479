-- PATCH /tasks/<random id 1..ID_MAX>?completed=true   args: [ID_MAX=10000]
local id_max = 10000

function init(args)
  bench_seed()
  id_max = bench_arg(args, 1, id_max)
end

function request()
  return wrk.format("PATCH", "/tasks/" .. math.random(1, id_max) .. "?completed=true")
end

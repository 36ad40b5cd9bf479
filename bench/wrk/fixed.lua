-- The URL given to wrk, every time; built per request (like list.lua and get.lua do)
-- so that wrk spends about the same per request in every case it is compared with.
function init(args)
  bench_seed()
end

function request()
  return wrk.format()
end

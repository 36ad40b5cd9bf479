-- POST /tasks/ with a JSON body (the same body every time; each creates a new task).
wrk.method = "POST"
wrk.path = "/tasks/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Benchmark task","description":"created by script/bench","is_completed":false}'

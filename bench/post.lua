-- post.lua - the wrk script of bench/bench.py.
--
--   wrk -s bench/post.lua URL -- '{"command":["/bin/true"]}'
--
-- The argument after "--" is a JSON body to POST (none: plain GETs).  Every
-- answer that is not 200 is counted by status, and so is a 200 whose body
-- does not say "status": "ok" (a run that did not succeed).  When the run is
-- over, one line "BENCH {json}" carries wrk's numbers and these counts.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local body = args[1]
   if body and body ~= "" then
      wrk.method = "POST"
      wrk.body = body
      wrk.headers["Content-Type"] = "application/json"
   end
   non200 = 0
   notok = 0
   codes = ""       -- "503=2 504=1": thread:get copies strings safely
   example = ""     -- the first unexpected answer's body
   seen = {}
end

local function note(body)
   if example == "" then
      example = string.sub(body or "", 1, 200)
   end
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      seen[status] = (seen[status] or 0) + 1
      local parts = {}
      for code, n in pairs(seen) do
         table.insert(parts, code .. "=" .. n)
      end
      table.sort(parts)
      codes = table.concat(parts, " ")
      note(body)
   elseif not string.find(body, '"status"%s*:%s*"ok"') then
      notok = notok + 1
      note(body)
   end
end

local function quote(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local n200, nok, allcodes, ex = 0, 0, {}, ""
   for _, t in ipairs(threads) do
      n200 = n200 + (t:get("non200") or 0)
      nok = nok + (t:get("notok") or 0)
      local c = t:get("codes") or ""
      if c ~= "" then
         table.insert(allcodes, c)
      end
      if ex == "" then
         ex = t:get("example") or ""
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,' ..
      '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"connect_errors":%d,' ..
      '"read_errors":%d,"write_errors":%d,"timeouts":%d,"non200":%d,' ..
      '"codes":%s,"not_ok":%d,"example":%s}\n',
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.timeout, n200,
      quote(table.concat(allcodes, " ")), nok, quote(ex)))
end

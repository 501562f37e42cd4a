--[[
eqbridge for REAPER (ReaScript, Lua): match the EQ of the selected track's plugin to a reference.

REAPER's Lua has no UDP sockets (without third-party extensions), so this script does not speak OSC
itself: it hands the two items' source files to examples/osc_client.py (clip transfer, so only the
item's visible part is sent and no --allow-dir is needed), reads the result back, and applies it:

  * the normalized value of each parameter goes to the plugin with TrackFX_SetParamNormalized,
    using the plugin parameter index eqbridge sends (osc_client.py --lines: "param <index> <normalized>");
  * the automation JSON the server writes (serve --automation-dir, eqbridge-<id>.automation.json, the
    same file examples/ardour_eqbridge_automation.lua reads) becomes envelope points of the plugin's
    parameters, each found by the plugin's own parameter name, placed from the track item's position
    on the timeline; the points already in that span of those envelopes are replaced.

Every check (the client's answer, the JSON, the plugin and its parameter names) comes before the first
value is set, so a bad input changes nothing; the changes are one undo step.

Use:
  1. Start the server:  eqbridge serve --plugin zameq2 --reply-port 0 --automation-dir ~/eqbridge-automation
  2. Put the EQ plugin (e.g. ZamEQ2 or LSP Parametric EQ) on the track to be processed.
  3. Select two items: first the one to be equalized, then the reference (selection order =
     position order: the earlier item on the timeline is the track).
  4. Run this script (Actions > Load ReaScript...). Edit CONFIG below first.

The part that does not need REAPER (the JSON reader and the point plan) is plain Lua: loaded with the
global EQBRIDGE_LIBRARY set, the script returns its functions instead of running (tests/host/test_reaper_script.py).
]]

local CONFIG = {
  python = "python3",                                       -- a Python with python-osc, numpy, soundfile
  client = "/path/to/eqbridge/examples/osc_client.py",
  port = 9000,                                              -- the server's --port
  automation_dir = (os.getenv("HOME") or ".") .. "/eqbridge-automation",  -- the server's --automation-dir
  fx_name = "ZamEQ2",                                       -- part of the plugin's name in the FX chain
  write_automation = true,
  timeout_ms = 120000,                                      -- how long to wait for the client
}

local M = {}
M.FORMAT = "eqbridge-automation-1"

-- A strict JSON reader (RFC 8259 objects, arrays, strings, numbers, true/false) for the files eqbridge
-- writes: REAPER's Lua has no JSON library. Anything else (null, NaN, comments, trailing commas, duplicate
-- keys, surrogate pairs) is an error naming what and where. Arrays carry the metatable M.ARRAY so that
-- an empty array and an empty object stay apart.
M.ARRAY = {}

function M.json_decode(text, source)
  if type(text) ~= "string" then error("JSON: expected text, got " .. type(text), 0) end
  source = source or "JSON"
  local pos = 1
  local function fail(what)
    error(string.format("%s: %s at byte %d", source, what, pos), 0)
  end
  local function skip() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
  local function string_value()
    local out = {}
    pos = pos + 1
    while true do
      local run_end = text:find('["\\%c]', pos)
      if not run_end then fail("unterminated string") end
      out[#out + 1] = text:sub(pos, run_end - 1)
      pos = run_end
      local c = text:sub(pos, pos)
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c ~= "\\" then fail("control character in a string") end
      local e = text:sub(pos + 1, pos + 1)
      if e == "u" then
        local hex = text:sub(pos + 2, pos + 5)
        if not hex:match("^%x%x%x%x$") then fail("bad \\u escape") end
        local code = tonumber(hex, 16)
        if code >= 0xD800 and code <= 0xDFFF then fail("\\u surrogate pairs are not supported") end
        out[#out + 1] = utf8.char(code)
        pos = pos + 6
      elseif escapes[e] then
        out[#out + 1] = escapes[e]
        pos = pos + 2
      else
        fail("bad escape \\" .. e)
      end
    end
  end
  local function number_value()
    local s, e = text:find("^-?%d+", pos)
    if not s then fail("unexpected character '" .. text:sub(pos, pos) .. "'") end
    if text:sub(pos, e):match("^-?0%d") then fail("number with a leading zero") end
    local frac = text:match("^%.%d+", e + 1)
    if frac then e = e + #frac elseif text:sub(e + 1, e + 1) == "." then pos = e + 1; fail("bad number") end
    local exp = text:match("^[eE][-+]?%d+", e + 1)
    if exp then e = e + #exp elseif text:find("^[eE]", e + 1) then pos = e + 1; fail("bad number") end
    local n = tonumber(text:sub(pos, e))
    pos = e + 1
    return n
  end
  local value
  function value()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1; skip()
      if text:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        skip()
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local key = string_value()
        if obj[key] ~= nil then fail("duplicate key '" .. key .. "'") end
        skip()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[key] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = setmetatable({}, M.ARRAY)
      pos = pos + 1; skip()
      if text:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then return string_value()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then fail("null is not supported")
    elseif c == "" then fail("unexpected end")
    end
    return number_value()
  end
  local result = value()
  skip()
  if pos <= #text then fail("trailing characters") end
  return result
end

local function is_array(t) return type(t) == "table" and getmetatable(t) == M.ARRAY end

-- The envelope points of an automation JSON's text, each lane's times moved to start at item_pos_s
-- (seconds on REAPER's timeline): { {name, plugin_name, plugin_index, points = { {time_s, value_norm}... }}... }.
-- Checks the whole file first: format, lane fields, equal lengths, increasing times, values in 0..1.
function M.plan_points(json_text, item_pos_s, source)
  source = source or "automation JSON"
  if type(item_pos_s) ~= "number" then error("item position must be a number of seconds", 0) end
  local data = M.json_decode(json_text, source)
  if type(data) ~= "table" or is_array(data) or data.format ~= M.FORMAT then
    error(source .. " is not an eqbridge automation JSON (format " .. M.FORMAT .. ")", 0)
  end
  if not is_array(data.lanes) or #data.lanes == 0 then error(source .. ": 'lanes' must be a non-empty array", 0) end
  local plan = {}
  for i, lane in ipairs(data.lanes) do
    local where = string.format("%s: lane %d", source, i)
    if type(lane) ~= "table" or is_array(lane) then error(where .. " is not an object", 0) end
    if type(lane.name) ~= "string" or type(lane.plugin_name) ~= "string" or lane.plugin_name == "" then
      error(where .. " needs the strings 'name' and 'plugin_name'", 0)
    end
    where = where .. " (" .. lane.name .. ")"
    if math.type(lane.plugin_index) ~= "integer" then error(where .. ": 'plugin_index' must be an integer", 0) end
    local times, values = lane.times_s, lane.values_norm
    if not is_array(times) or not is_array(values) or #times == 0 or #times ~= #values then
      error(where .. ": 'times_s' and 'values_norm' must be arrays of the same non-zero length", 0)
    end
    local points = {}
    for k = 1, #times do
      local t, v = times[k], values[k]
      if type(t) ~= "number" or type(v) ~= "number" then error(where .. ": point " .. k .. " is not numbers", 0) end
      if t < 0 or (k > 1 and t <= times[k - 1]) then
        error(where .. ": times_s must start at 0 or later and increase (point " .. k .. ")", 0)
      end
      if v < 0 or v > 1 then error(where .. ": values_norm point " .. k .. " is outside 0..1", 0) end
      points[k] = { item_pos_s + t, v }
    end
    plan[i] = { name = lane.name, plugin_name = lane.plugin_name, plugin_index = lane.plugin_index, points = points }
  end
  return plan
end

function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read " .. path .. ": " .. tostring(err), 0) end
  local text = f:read("a")
  f:close()
  return text
end

-- REAPER from here on.

-- Each lane's FX parameter, found by the plugin's own parameter name (never by position): { [lane] = param }.
function M.resolve_params(track, fx, plan)
  local by_name, names = {}, {}
  for p = 0, reaper.TrackFX_GetNumParams(track, fx) - 1 do
    local _, name = reaper.TrackFX_GetParamName(track, fx, p, "")
    if by_name[name] == nil then by_name[name] = p end
    names[#names + 1] = name
  end
  local params = {}
  for i, lane in ipairs(plan) do
    params[i] = by_name[lane.plugin_name]
    if params[i] == nil then
      local _, fx_name = reaper.TrackFX_GetFXName(track, fx, "")
      error(string.format("plugin '%s' has no parameter '%s' (for %s); it has: %s", fx_name, lane.plugin_name,
                          lane.name, table.concat(names, ", ")), 0)
    end
  end
  return params
end

-- The points of each lane onto its FX parameter envelope, replacing the points in the lane's span.
-- FX envelopes hold the parameter's own range (TrackFX_GetParam's min..max: 0..1 for VST and LV2).
function M.write_envelopes(track, fx, plan, params)
  for i, lane in ipairs(plan) do
    local env = reaper.GetFXEnvelope(track, fx, params[i], true)
    if not env then error("REAPER gave no envelope for parameter '" .. lane.plugin_name .. "'", 0) end
    local _, lo, hi = reaper.TrackFX_GetParam(track, fx, params[i])
    local first, last = lane.points[1][1], lane.points[#lane.points][1]
    reaper.DeleteEnvelopePointRange(env, first, last + 1e-9)  -- [start, end): the last point too
    for _, point in ipairs(lane.points) do
      reaper.InsertEnvelopePoint(env, point[1], lo + point[2] * (hi - lo), 0, 0, false, true)
    end
    reaper.Envelope_SortPoints(env)
  end
end

local function item_source(item)
  local take = reaper.GetActiveTake(item)
  if not take or reaper.TakeIsMIDI(take) then return nil end
  local source = reaper.GetMediaItemTake_Source(take)
  local path = reaper.GetMediaSourceFileName(source, "")
  local offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  return path, offset, length
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A request id whose automation JSON does not exist yet, so the server writes exactly that file.
local function fresh_request(config)
  local id = os.time() % 2147483647
  while file_exists(string.format("%s/eqbridge-%d.automation.json", config.automation_dir, id)) do id = id + 1 end
  return id, string.format("%s/eqbridge-%d.automation.json", config.automation_dir, id)
end

-- Lines written by osc_client.py --lines: "param <index> <normalized>", or "error -1 <message>".
local function read_params(path)
  local params = {}
  for line in M.read_file(path):gmatch("[^\n]+") do
    if line:match("^error ") then error("eqbridge: " .. line:gsub("^error %-1 ", ""), 0) end
    local index, norm = line:match("^param (%-?%d+) (%S+)$")
    if index and tonumber(index) >= 0 then params[#params + 1] = { tonumber(index), tonumber(norm) } end
  end
  return params
end

function M.run(config)
  if reaper.CountSelectedMediaItems(0) ~= 2 then error("Select two items: the track, then the reference.", 0) end
  local item = reaper.GetSelectedMediaItem(0, 0)
  local ref_item = reaper.GetSelectedMediaItem(0, 1)
  local track_path, track_off, track_len = item_source(item)
  local ref_path, ref_off, ref_len = item_source(ref_item)
  if not track_path or not ref_path then error("Both items need an audio take.", 0) end
  local track = reaper.GetMediaItem_Track(item)
  local fx = -1
  for i = 0, reaper.TrackFX_GetCount(track) - 1 do
    local _, name = reaper.TrackFX_GetFXName(track, i, "")
    if name:find(config.fx_name, 1, true) then fx = i break end
  end
  if fx < 0 then error("No plugin named like '" .. config.fx_name .. "' on the item's track.", 0) end

  local request_id, json_path = fresh_request(config)
  local out = os.tmpname() .. ".txt"
  local cmd = table.concat({config.python, shell_quote(config.client), "clips", shell_quote(track_path),
    shell_quote(ref_path), "--port", config.port, "--request-id", request_id, "--start", track_off,
    "--length", track_len, "--reference-start", ref_off, "--reference-length", ref_len,
    "--lines", shell_quote(out)}, " ")
  local rc = reaper.ExecProcess(cmd, config.timeout_ms)  -- "exit code\noutput", or nil on a timeout
  if rc == nil then error(string.format("the eqbridge client did not finish within %d s", config.timeout_ms // 1000), 0) end
  if not file_exists(out) then error("eqbridge client failed:\n" .. rc, 0) end
  local ok, values = pcall(read_params, out)
  os.remove(out)
  if not ok then error(values, 0) end

  local plan, params
  if config.write_automation then
    if not file_exists(json_path) then
      error("no automation JSON at " .. json_path .. ": start eqbridge serve with --automation-dir " ..
            config.automation_dir .. " (or set automation_dir in this script)", 0)
    end
    local item_pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
    plan = M.plan_points(M.read_file(json_path), item_pos, json_path)
    params = M.resolve_params(track, fx, plan)
  end

  reaper.Undo_BeginBlock()
  local written, err = pcall(function()
    for _, v in ipairs(values) do reaper.TrackFX_SetParamNormalized(track, fx, v[1], v[2]) end
    if plan then M.write_envelopes(track, fx, plan, params) end
  end)
  reaper.Undo_EndBlock("eqbridge: match EQ to reference", -1)  -- closed even on an error: one undo step
  if not written then error(err, 0) end
  reaper.UpdateArrange()
  return #values, plan and #plan or 0
end

function M.main(config)
  local ok, err = pcall(M.run, config)
  if not ok then reaper.ShowMessageBox(tostring(err), "eqbridge", 0) end
  return ok
end

if EQBRIDGE_LIBRARY then return M end
M.main(CONFIG)

ardour {
  ["type"] = "EditorAction",
  name = "eqbridge: write EQ automation",
  author = "eqbridge",
  license = "MIT",
  description = [[Writes the automation of an eqbridge match (the JSON `eqbridge serve --automation-dir` writes,
eqbridge-<id>.automation.json) onto the lanes of the EQ plugin on a track: one lane per parameter, found by
the plugin's own parameter name, points in the plugin's own units from the track's start on the timeline.
The lanes are set to Play. Install: copy to ~/.config/ardour7/scripts/, then Edit > Lua Scripts > Script
Manager > Add/Set, pick this script and fill in the parameters (they are asked once, when it is added).]]
}

-- The parameters Ardour asks for when the action is added (and the test passes directly).
function action_params()
  return {
    ["json"]   = { title = "Automation JSON (eqbridge serve --automation-dir)", default = "" },
    ["route"]  = { title = "Track name (empty: the first selected track)", default = "" },
    ["plugin"] = { title = "EQ plugin position on the track, from 1", default = "1" },
    ["start"]  = { title = "Where the matched audio starts on the timeline, seconds (empty: the selected region's start)", default = "" },
  }
end

-- A small JSON reader (objects, arrays, strings, numbers, true/false/null): Ardour's Lua has none.
local function json_decode(text)
  local pos = 1
  local value
  local function skip() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local function fail(what) error(string.format("automation JSON: %s at byte %d", what, pos)) end
  local function str()
    local out, i = {}, pos + 1
    while true do
      local c = text:sub(i, i)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = i + 1; return table.concat(out) end
      if c == "\\" then
        local e = text:sub(i + 1, i + 1)
        local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if e == "u" then
          local code = tonumber(text:sub(i + 2, i + 5), 16) or fail("bad \\u escape")
          out[#out + 1] = code < 128 and string.char(code) or utf8.char(code)
          i = i + 6
        else
          out[#out + 1] = map[e] or fail("bad escape")
          i = i + 2
        end
      else
        out[#out + 1] = c
        i = i + 1
      end
    end
  end
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
        local k = str(); skip()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = {}
      pos = pos + 1; skip()
      if text:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    end
    local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected character") end
    pos = pos + #num
    return tonumber(num) or fail("bad number")
  end
  local result = value()
  skip()
  if pos <= #text then fail("trailing characters") end
  return result
end

-- Every check comes before the first point is written: a bad input changes nothing.
local function write_automation(session, params)
  local f = io.open(params["json"], "r")
  if not f then error("cannot open the automation JSON " .. tostring(params["json"])) end
  local data = json_decode(f:read("*a"))
  f:close()
  if data["format"] ~= "eqbridge-automation-1" then
    error(params["json"] .. " is not an eqbridge automation JSON (format eqbridge-automation-1)")
  end

  local route, start_s
  if params["route"] and params["route"] ~= "" then
    route = session:route_by_name(params["route"])
    if route:isnil() then error("no track named '" .. params["route"] .. "'") end
  else
    for r in Editor:get_selection().tracks:routelist():iter() do route = route or r end
    if not route then error("select the track that holds the EQ") end
  end
  if params["start"] and params["start"] ~= "" then
    start_s = tonumber(params["start"]) or error("start must be a number of seconds")
  else
    local region = nil
    for r in Editor:get_selection().regions:regionlist():iter() do region = region or r end
    if not region then error("select the matched region, or give its start in seconds") end
    start_s = region:position():samples() / session:nominal_sample_rate()
  end

  local nth = (tonumber(params["plugin"]) or 1) - 1
  local proc = route:nth_plugin(nth)
  if proc:isnil() then error(string.format("track '%s' has no plugin %d", route:name(), nth + 1)) end
  local plugin = proc:to_insert():plugin(0)
  local names = data["daw_plugin_names"] or {}
  if #names > 0 then
    local known = false
    for _, n in ipairs(names) do known = known or n == plugin:name() end
    if not known then
      error(string.format("plugin %d on '%s' is '%s', but the automation is for profile %s (%s)", nth + 1,
                          route:name(), plugin:name(), data["plugin"], table.concat(names, " or ")))
    end
  end

  -- The plugin's input controls by name: Ardour's control number (plugin_automation) and port (automation_control).
  local controls, n = {}, 0
  for port = 0, plugin:parameter_count() - 1 do
    if plugin:parameter_is_control(port) then
      if plugin:parameter_is_input(port) then controls[plugin:parameter_label(port)] = { n = n, port = port } end
      n = n + 1
    end
  end
  for _, lane in ipairs(data["lanes"]) do
    if not controls[lane["plugin_name"]] then
      error(string.format("plugin '%s' has no parameter '%s' (for %s)", plugin:name(), lane["plugin_name"], lane["name"]))
    end
  end

  local rate = session:nominal_sample_rate()
  for _, lane in ipairs(data["lanes"]) do
    local c = controls[lane["plugin_name"]]
    local al, cl, pd = ARDOUR.LuaAPI.plugin_automation(proc, c.n)
    local before = al:get_state()
    cl:clear_list()
    for i, t in ipairs(lane["times_s"]) do
      local v = math.min(math.max(lane["values"][i], pd.lower), pd.upper)
      cl:add(Temporal.timepos_t(math.floor((start_s + t) * rate + 0.5)), v, false, false)
    end
    session:add_command(al:memento_command(before, al:get_state()))
    local ac = proc:to_automatable():automation_control(
      Evoral.Parameter(ARDOUR.AutomationType.PluginAutomation, 0, c.port), false)
    ac:set_automation_state(ARDOUR.AutoState.Play)
  end
  return #data["lanes"]
end

function factory(params)
  return function()
    Session:begin_reversible_command("eqbridge: write EQ automation")
    local ok, result = pcall(write_automation, Session, params)
    if ok then
      Session:commit_reversible_command(nil)
      print(string.format("eqbridge: wrote %d automation lanes", result))
    else
      Session:abort_reversible_command()
      if LuaDialog then LuaDialog.Message("eqbridge", tostring(result), LuaDialog.MessageType.Error,
                                          LuaDialog.ButtonType.Close):run() end
      error(result)
    end
  end
end

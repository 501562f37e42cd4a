-- A headless Ardour (run by host/daw/headless.py under ardour7-lua, dummy backend): tests and `eqbridge bench daw`.
--   build FOLDER NAME URI...   a session (48 kHz) with one mono track "track" holding the LV2 plugins URI... in order
--   run FOLDER NAME            load the session (its OSC surface starts) and keep it until stdin closes;
--                              each line read is a Lua file run in it (Session is the session), answered
--                              with "eqbridge-session done" (after "eqbridge-session error: ..." if it failed)
--   action FOLDER NAME SCRIPT ROUTE PLUGIN [KEY VALUE]...
--                              run the editor action SCRIPT with the parameters KEY=VALUE, print every point
--                              of the lanes of plugin PLUGIN (from 1) on ROUTE, save the session
local mode, folder, name = arg[1], arg[2], arg[3]
AudioEngine:set_backend("None (Dummy)", "", "")
if mode == "build" then
  local s = create_session(folder, name, 48000)
  assert(s, "create_session failed")
  local track = s:new_audio_track(1, 2, nil, 1, "track", ARDOUR.PresentationInfo.max_order,
                                  ARDOUR.TrackMode.Normal, true):front()
  for i = 4, #arg do
    local p = ARDOUR.LuaAPI.new_plugin(s, arg[i], ARDOUR.PluginType.LV2, "")
    assert(not p:isnil(), "no LV2 plugin " .. arg[i])
    track:add_processor_by_index(p, i - 4, nil, true)
  end
  s:save_state("", false, false, false, false, false)
  close_session()
  print("eqbridge-session built")
elseif mode == "run" then
  Session = load_session(folder, name)
  assert(Session, "load_session failed")
  print("eqbridge-session ready")
  io.stdout:flush()
  for line in io.lines() do
    local ok, err = pcall(dofile, line)
    if not ok then print("eqbridge-session error: " .. tostring(err)) end
    print("eqbridge-session done")
    io.stdout:flush()
  end
  close_session()
elseif mode == "action" then
  Session = load_session(folder, name)
  assert(Session, "load_session failed")
  function ardour(_) end  -- an action script's header: Ardour reads it, here it is only called
  dofile(arg[4])
  local route, plugin_pos = arg[5], tonumber(arg[6])
  local params = {}
  for i = 7, #arg - 1, 2 do params[arg[i]] = arg[i + 1] end
  local ok, err = pcall(factory(params))
  if not ok then print("eqbridge-session error: " .. tostring(err)) end
  local proc = Session:route_by_name(route):nth_plugin(plugin_pos - 1)
  local plugin = proc:to_insert():plugin(0)
  local n = 0
  for port = 0, plugin:parameter_count() - 1 do
    if plugin:parameter_is_control(port) then
      if plugin:parameter_is_input(port) then
        local _, cl, _ = ARDOUR.LuaAPI.plugin_automation(proc, n)
        for ev in cl:events():iter() do
          print(string.format("eqbridge-session point\t%s\t%d\t%.9g", plugin:parameter_label(port),
                              ev.when:samples(), ev.value))
        end
      end
      n = n + 1
    end
  end
  Session:save_state("", false, false, false, false, false)
  close_session()
end

-- A headless Ardour for the tests (run by tests/host/ardour_harness.py under ardour7-lua, dummy backend).
--   build FOLDER NAME URI...   a session with one mono track "track" holding the LV2 plugins URI... in order
--   run FOLDER NAME            load the session (its OSC surface starts) and keep it until stdin closes
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
  print("eqbridge-test built")
elseif mode == "run" then
  local s = load_session(folder, name)
  assert(s, "load_session failed")
  print("eqbridge-test ready")
  io.stdout:flush()
  io.read("*l")
  close_session()
end

ardour {
  ["type"] = "EditorAction",
  name = "eqbridge: match EQ to a reference",
  author = "eqbridge",
  license = "MIT",
  description = [[Asks eqbridge to match the EQ of the selected region's track to a reference file: sends the
region's source file, its start and length in that file, the reference, and the strip and EQ plugin to set
(/eqbridge/match_region, with ARDOUR.LuaOSC.Address). eqbridge matches, sets the plugin through Ardour's OSC
surface and reads the values back. Needs: `eqbridge serve --plugin zameq2 --daw ardour --allow-dir
<session>/interchange --allow-dir <folder of the reference>` running, and Ardour's OSC surface on
(Edit > Preferences > Control Surfaces > Open Sound Control, reply to the sender's port).]]
}

function action_params()
  return {
    ["reference"] = { title = "Reference audio file (absolute path)", default = "" },
    ["eqbridge"]  = { title = "eqbridge's OSC address", default = "osc.udp://127.0.0.1:9000" },
    ["plugin"]    = { title = "Name of the EQ plugin on the track", default = "ZamEQ2" },
  }
end

-- Ardour's OSC surface numbers the strips it shows from 1 in presentation order, without the master,
-- the monitor and hidden strips (its default strip types).
local function strip_id(session, route)
  local order = route:presentation_info_ptr():order()
  local id = 1
  for r in session:get_routes():iter() do
    if not r:is_master() and not r:is_monitor() and not r:is_hidden() and not r:is_auditioner()
        and r:presentation_info_ptr():order() < order then
      id = id + 1
    end
  end
  return id
end

-- The OSC plugin id: the position (from 1) of the first plugin of that name on the route.
local function plugin_id(route, name)
  local i = 0
  while true do
    local proc = route:nth_plugin(i)
    if proc:isnil() then return nil end
    if proc:to_insert():plugin(0):name() == name then return i + 1 end
    i = i + 1
  end
end

-- The arguments of /eqbridge/match_region for one region.
function eqbridge_request(session, region, reference, plugin_name, request_id)
  local ar = region:to_audioregion()
  if ar:isnil() then error("the selected region is not audio") end
  local path = ar:source(0):to_filesource():path()
  local rate = session:nominal_sample_rate()
  local route = nil
  for r in session:get_routes():iter() do  -- the track whose playlist holds the region
    local t = r:to_track()
    if not t:isnil() then
      for candidate in t:playlist():region_list():iter() do
        if candidate:name() == region:name() and candidate:position():samples() == region:position():samples() then route = r end
      end
    end
  end
  if not route then error("the region lies on no track") end
  local piid = plugin_id(route, plugin_name)
  if not piid then error(string.format("track '%s' has no plugin named '%s'", route:name(), plugin_name)) end
  return { request_id, path, region:start():samples() / rate, region:length():samples() / rate, reference,
           strip_id(session, route), piid }
end

-- Send the match request for one region (the action below, and the test, call this).
function eqbridge_send(session, region, params, request_id)
  local args = eqbridge_request(session, region, params["reference"], params["plugin"], request_id)
  local tx = ARDOUR.LuaOSC.Address(params["eqbridge"])
  tx:send("/eqbridge/match_region", "isffsii", table.unpack(args))
  print(string.format("eqbridge: request %d sent (strip %d, plugin %d); the EQ changes once matched",
                      args[1], args[6], args[7]))
  return args
end

function factory(params)
  return function()
    local region = nil
    for r in Editor:get_selection().regions:regionlist():iter() do region = region or r end
    if not region then
      LuaDialog.Message("eqbridge", "Select the region to match.", LuaDialog.MessageType.Error,
                        LuaDialog.ButtonType.Close):run()
      return
    end
    eqbridge_send(Session, region, params, os.time() % 1000000)
  end
end

--[[
eqbridge for REAPER (ReaScript, Lua): match the EQ of the selected track's plugin to a reference.

REAPER's Lua has no UDP sockets (without third-party extensions), so this script does not speak OSC
itself: it hands the two items' source files to examples/osc_client.py (clip transfer, so only the
item's visible part is sent and no --allow-dir is needed), reads the result back, and applies it:

  * the normalized value of each parameter goes to the plugin with TrackFX_SetParamNormalized,
    using the plugin parameter index eqbridge sends (/eqbridge/normalized);
  * the automation lanes (/eqbridge/automation) become envelope points of those parameters,
    placed from the track item's position on the timeline.

Use:
  1. Start the server:  eqbridge serve --plugin zameq2 --reply-port 0 --allow-dir /tmp
  2. Put the EQ plugin (e.g. ZamEQ2 or LSP Parametric EQ) on the track to be processed.
  3. Select two items: first the one to be equalized, then the reference (selection order =
     position order: the earlier item on the timeline is the track).
  4. Run this script (Actions > Load ReaScript...). Edit the settings below first.
]]

local PYTHON = "python3"                                      -- a Python with python-osc, numpy, soundfile
local CLIENT = "/path/to/eqbridge/examples/osc_client.py"
local PORT = 9000                                             -- the server's --port
local FX_NAME = "ZamEQ2"                                      -- part of the plugin's name in the FX chain
local WRITE_AUTOMATION = true

local function fail(msg)
  reaper.ShowMessageBox(msg, "eqbridge", 0)
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

local function main()
  if reaper.CountSelectedMediaItems(0) ~= 2 then return fail("Select two items: the track, then the reference.") end
  local item = reaper.GetSelectedMediaItem(0, 0)
  local ref_item = reaper.GetSelectedMediaItem(0, 1)
  local track_path, track_off, track_len = item_source(item)
  local ref_path, ref_off, ref_len = item_source(ref_item)
  if not track_path or not ref_path then return fail("Both items need an audio take.") end

  local out = os.tmpname() .. ".txt"
  local cmd = table.concat({PYTHON, shell_quote(CLIENT), "clips", shell_quote(track_path), shell_quote(ref_path),
    "--port", PORT, "--start", track_off, "--length", track_len,
    "--reference-start", ref_off, "--reference-length", ref_len, "--lines", shell_quote(out)}, " ")
  local rc = reaper.ExecProcess(cmd, 120000)   -- waits up to 120 s; returns "exit code\noutput"
  local f = io.open(out, "r")
  if not f then return fail("eqbridge client failed:\n" .. tostring(rc)) end

  local track = reaper.GetMediaItem_Track(item)
  local fx = -1
  for i = 0, reaper.TrackFX_GetCount(track) - 1 do
    local _, name = reaper.TrackFX_GetFXName(track, i, "")
    if name:find(FX_NAME, 1, true) then fx = i break end
  end
  if fx < 0 then f:close() return fail("No plugin named like '" .. FX_NAME .. "' on the item's track.") end

  local item_pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  reaper.Undo_BeginBlock()
  -- Lines written by osc_client.py --lines:  "param <index> <normalized>" and "point <index> <time_s> <normalized>"
  for line in f:lines() do
    local kind, a, b, c = line:match("^(%a+) (%-?%d+) (%S+) ?(%S*)")
    local index = tonumber(a)
    if kind == "error" then f:close() return fail("eqbridge: " .. line) end
    if kind == "param" and index >= 0 then
      reaper.TrackFX_SetParamNormalized(track, fx, index, tonumber(b))
    elseif kind == "point" and index >= 0 and WRITE_AUTOMATION then
      local env = reaper.GetFXEnvelope(track, fx, index, true)
      reaper.InsertEnvelopePoint(env, item_pos + tonumber(b), tonumber(c), 0, 0, false, true)
    end
  end
  f:close()
  os.remove(out)
  if WRITE_AUTOMATION then
    for i = 0, reaper.CountTrackEnvelopes(track) - 1 do reaper.Envelope_SortPoints(reaper.GetTrackEnvelope(track, i)) end
  end
  reaper.Undo_EndBlock("eqbridge: match EQ to reference", -1)
  reaper.UpdateArrange()
end

main()

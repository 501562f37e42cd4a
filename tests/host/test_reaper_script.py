"""examples/reaper_eqbridge.lua under a real Lua 5.4 (REAPER's Lua version; REAPER itself cannot be installed
here): the whole script against a real `eqbridge serve --automation-dir` and the real examples/osc_client.py,
with a stand-in ``reaper`` table only for REAPER's own API, which records every call. The envelope points it
writes must be the automation JSON eqbridge wrote: parameter (found by name), time on the timeline, value."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from host.osc.client import start_server, stop_server
from model.profiles import load_profile

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "reaper_eqbridge.lua"
AUDIO = ROOT / "examples" / "audio"
LUA = "lua5.4"
ZAMEQ2 = load_profile("zameq2")
# The VST's parameters in its own order, as REAPER's TrackFX_GetParamName lists them.
VST_NAMES = [name for _, name in sorted((p.index, p.plugin_name) for p in (*ZAMEQ2.parameters, *ZAMEQ2.fixed))]

# The stand-in for REAPER's API: two selected items (the track, the reference) on a track whose second FX is
# the EQ; ExecProcess really runs the command; everything the script does to REAPER is printed, one call a line.
DRIVER = r"""
local mode, script = arg[1], arg[2]
local function out(...)
  local parts = {}
  for i, v in ipairs({...}) do parts[i] = math.type(v) == "float" and string.format("%.17g", v) or tostring(v) end
  print(table.concat(parts, "\t"))
end
if mode == "decode" then  -- arg[3]: a file; prints ok or the error
  EQBRIDGE_LIBRARY = true
  local M = dofile(script)
  local ok, err = pcall(M.json_decode, M.read_file(arg[3]), "test.json")
  out(ok and "ok" or "error", ok and "" or err)
  return
end
local param_names = {}
for n in arg[3]:gmatch("[^|]+") do param_names[#param_names + 1] = n end
local cfg = { python = arg[4], client = arg[5], port = tonumber(arg[6]), automation_dir = arg[7], fx_name = "ZamEQ2",
              write_automation = true, timeout_ms = 120000 }
local items = { { pos = tonumber(arg[10]), off = tonumber(arg[11]), len = tonumber(arg[12]), file = arg[8] },
                { pos = 30.0, off = 0.0, len = tonumber(arg[13]), file = arg[9] } }
local fx_names = { [0] = "JS: Volume/Pan Smoother", [1] = "VST: ZamEQ2 (Damien Zammit)" }
local envs = {}
reaper = {}
function reaper.CountSelectedMediaItems(project) return #items end
function reaper.GetSelectedMediaItem(project, i) return items[i + 1] end
function reaper.GetActiveTake(item) return item end
function reaper.TakeIsMIDI(take) return false end
function reaper.GetMediaItemTake_Source(take) return take end
function reaper.GetMediaSourceFileName(source, buf) return source.file end
function reaper.GetMediaItemTakeInfo_Value(take, key) assert(key == "D_STARTOFFS", key) return take.off end
function reaper.GetMediaItemInfo_Value(item, key)
  if key == "D_LENGTH" then return item.len elseif key == "D_POSITION" then return item.pos end
  error("unexpected key " .. key)
end
function reaper.GetMediaItem_Track(item) return "the track" end
function reaper.TrackFX_GetCount(track) return 2 end
function reaper.TrackFX_GetFXName(track, fx, buf) return true, fx_names[fx] end
function reaper.TrackFX_GetNumParams(track, fx) assert(fx == 1) return #param_names end
function reaper.TrackFX_GetParamName(track, fx, p, buf) return true, param_names[p + 1] end
function reaper.TrackFX_GetParam(track, fx, p) return 0.5, 0.0, 1.0 end
function reaper.ExecProcess(cmd, timeout_ms)
  local p = io.popen(cmd .. " 2>&1")
  local output = p:read("a")
  local _, _, code = p:close()
  out("ExecProcess", code, (cmd:gsub("\t", " ")))
  return code .. "\n" .. output
end
function reaper.TrackFX_SetParamNormalized(track, fx, p, v) out("SetParamNormalized", fx, p, v) end
function reaper.GetFXEnvelope(track, fx, p, create)
  out("GetFXEnvelope", fx, p, create)
  envs[p] = envs[p] or { param = p }
  return envs[p]
end
function reaper.DeleteEnvelopePointRange(env, t0, t1) out("DeleteEnvelopePointRange", env.param, t0, t1) end
function reaper.InsertEnvelopePoint(env, t, v, shape, tension, selected, no_sort)
  out("InsertEnvelopePoint", env.param, t, v, shape, tension, selected, no_sort)
end
function reaper.Envelope_SortPoints(env) out("Envelope_SortPoints", env.param) end
function reaper.Undo_BeginBlock() out("Undo_BeginBlock") end
function reaper.Undo_EndBlock(desc, flags) out("Undo_EndBlock") end
function reaper.UpdateArrange() out("UpdateArrange") end
function reaper.ShowMessageBox(msg, title, kind) out("ShowMessageBox", (msg:gsub("\n", " "))) end
EQBRIDGE_LIBRARY = true
local M = dofile(script)
out("main", M.main(cfg))
"""


def require_lua() -> None:
    if shutil.which(LUA) is None:
        message = f"{LUA} not found: apt-get install lua5.4"
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def run_lua(tmp_path: Path, *args: str) -> list[list[str]]:
    require_lua()
    driver = tmp_path / "driver.lua"
    driver.write_text(DRIVER)
    proc = subprocess.run([LUA, str(driver), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_lua()
    automation = tmp_path_factory.mktemp("automation")
    proc, port = start_server(tmp_path_factory.mktemp("allowed"), "--plugin", "zameq2", "--automation-dir",
                              str(automation), cwd=ROOT)
    try:
        yield port, automation
    finally:
        stop_server(proc)


def run_script(tmp_path: Path, port: int, automation: Path, param_names: list[str], item_pos_s: float,
               track_offset_s: float, track_length_s: float) -> list[list[str]]:
    return run_lua(tmp_path, "run", str(SCRIPT), "|".join(param_names), sys.executable,
                   str(ROOT / "examples" / "osc_client.py"), str(port), str(automation),
                   str(AUDIO / "track.flac"), str(AUDIO / "reference.flac"),
                   repr(item_pos_s), repr(track_offset_s), repr(track_length_s), "8.0")


def test_the_script_writes_the_automation_json_eqbridge_wrote_as_envelope_points(server, tmp_path) -> None:
    port, automation = server
    before = set(automation.iterdir())
    item_pos_s = 12.25
    calls = run_script(tmp_path, port, automation, VST_NAMES, item_pos_s, 1.0, 6.0)
    assert calls[-1] == ["main", "true"], calls
    (written,) = set(automation.iterdir()) - before  # the match of this run, under the request id it chose
    (execute,) = [c for c in calls if c[0] == "ExecProcess"]
    assert execute[1] == "0" and f"--request-id {written.name.split('-')[1].split('.')[0]}" in execute[2]
    record = json.loads(written.read_text())
    assert record["format"] == "eqbridge-automation-1" and len(record["lanes"]) == ZAMEQ2.n_params

    names = [c[0] for c in calls]
    begin, end = names.index("Undo_BeginBlock"), names.index("Undo_EndBlock")
    assert names.index("ExecProcess") < begin and all(n == "main" or n == "UpdateArrange" for n in names[end + 1:])
    inside = calls[begin + 1:end]
    set_params = [c for c in inside if c[0] == "SetParamNormalized"]
    assert sorted(int(c[2]) for c in set_params) == sorted(p.index for p in ZAMEQ2.parameters)
    assert all(c[1] == "1" and 0.0 <= float(c[3]) <= 1.0 for c in set_params)  # onto the EQ, FX 1 (0-based)

    envelopes = [c for c in inside if c[0] != "SetParamNormalized"]
    for lane in record["lanes"]:
        param = VST_NAMES.index(lane["plugin_name"])
        assert param == lane["plugin_index"]  # REAPER lists the VST's parameters in the profile's order
        mine = [c for c in envelopes if c[2 if c[0] == "GetFXEnvelope" else 1] == str(param)]
        assert [c[0] for c in mine] == (["GetFXEnvelope", "DeleteEnvelopePointRange"]
                                        + ["InsertEnvelopePoint"] * len(lane["times_s"]) + ["Envelope_SortPoints"])
        assert mine[0][1:] == ["1", str(param), "true"]
        inserted = [(float(c[2]), float(c[3])) for c in mine[2:-1]]
        assert [t for t, _ in inserted] == pytest.approx([item_pos_s + t for t in lane["times_s"]], rel=1e-15)
        assert [v for _, v in inserted] == lane["values_norm"], lane["name"]  # the JSON's own doubles
        assert all(c[4:] == ["0", "0", "false", "true"] for c in mine[2:-1])  # linear, unselected, sorted after
        assert float(mine[1][2]) == item_pos_s + lane["times_s"][0]
        assert float(mine[1][3]) > item_pos_s + lane["times_s"][-1]
    assert lane["times_s"][0] == 0.0 and lane["times_s"][-1] == pytest.approx(6.0)  # the item's 6 s


def test_parameters_are_found_by_name_and_a_missing_one_changes_nothing(server, tmp_path) -> None:
    port, automation = server
    shuffled = VST_NAMES[6:] + VST_NAMES[:6]  # another build of the plugin, another order
    calls = run_script(tmp_path, port, automation, shuffled, 0.0, 0.0, 8.0)
    assert calls[-1] == ["main", "true"]
    gets = {int(c[2]) for c in calls if c[0] == "GetFXEnvelope"}
    assert gets == {shuffled.index(p.plugin_name) for p in ZAMEQ2.parameters}

    renamed = [("Boost/Cut One" if n == "Boost/Cut 1" else n) for n in VST_NAMES]
    calls = run_script(tmp_path, port, automation, renamed, 0.0, 0.0, 8.0)
    assert calls[-1] == ["main", "false"]
    (message,) = [c[1] for c in calls if c[0] == "ShowMessageBox"]
    assert "has no parameter 'Boost/Cut 1' (for peak1_gain_db)" in message and "Boost/Cut One" in message
    assert [c[0] for c in calls] == ["ExecProcess", "ShowMessageBox", "main"]  # nothing set, nothing written


def test_a_server_without_automation_dir_is_a_clear_error(tmp_path) -> None:
    require_lua()
    proc, port = start_server(tmp_path, "--plugin", "zameq2", cwd=ROOT)
    try:
        calls = run_script(tmp_path, port, tmp_path / "nowhere", VST_NAMES, 0.0, 0.0, 8.0)
    finally:
        stop_server(proc)
    (message,) = [c[1] for c in calls if c[0] == "ShowMessageBox"]
    assert "no automation JSON at" in message and "--automation-dir" in message
    assert [c[0] for c in calls] == ["ExecProcess", "ShowMessageBox", "main"]


@pytest.mark.parametrize("text, error", [
    ('{"a": [1, 2.5e-3, -0, "x\\u00e9\\n", true, false, {}]}', None),
    ('{"a": null}', "null is not supported at byte 7"),
    ('{"a": NaN}', "unexpected character 'N'"),
    ('{"a": 1,}', "expected a key"),
    ('[1, 2] x', "trailing characters"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": 01}', "leading zero"),
    ('{"a": 1.}', "bad number"),
    ('{"a": 1e}', "bad number"),
    ('{"a": "x', "unterminated string"),
    ('{"a": "\\ud83c\\udfb5"}', "surrogate pairs are not supported"),
    ('{"a": "\\q"}', "bad escape \\q"),
    ('{"a" 1}', "expected ':'"),
    ('[1 2]', "expected ',' or ']'"),
    ('', "unexpected end"),
])
def test_the_json_reader_is_strict(tmp_path, text: str, error: str | None) -> None:
    path = tmp_path / "t.json"
    path.write_text(text)
    (result,) = run_lua(tmp_path, "decode", str(SCRIPT), str(path))
    if error is None:
        assert result == ["ok", ""] and json.loads(text)  # what Python reads too
    else:
        assert result[0] == "error" and result[1].startswith("test.json: ") and error in result[1], result

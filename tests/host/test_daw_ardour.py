"""`eqbridge push --daw ardour` against a real headless Ardour (one session for the module), read back from
Ardour's own OSC surface; and every bad input refused with one line before anything is set."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from host.cli import main
from host.daw.ardour import ArdourSurface
from host.matching.pipeline import settings_from_values
from host.osc.client import EqbridgeClient, start_server, stop_server
from model.profiles import PROFILES_DIR, load_profile
from tests.host.ardour_harness import build_session, run_automation_script, start_ardour
from tests.plugins import with_values

ZAMEQ2 = load_profile("zameq2")


@pytest.fixture(scope="module")
def ardour(tmp_path_factory):
    session = build_session(tmp_path_factory.mktemp("ardour"))
    running = start_ardour(session)
    try:
        yield running
    finally:
        running.stop()


def read_values(ardour, plugin: int = 1) -> dict[str, float]:
    with ArdourSurface(port=ardour.port) as surface:
        return {p.name: p.value for p in surface.descriptors(1, plugin)}


def settings_file(folder: Path, values: dict[str, float], plugin: str = "zameq2", name: str = "s.json") -> Path:
    """A settings JSON of the shape `match --settings-out` writes."""
    profile = load_profile(plugin) if not plugin.endswith(".json") else load_profile(plugin)
    record = settings_from_values(profile, profile.values_from_dict(values), tuple(range(profile.n_params)),
                                  "test").to_json()
    record["values"] = values  # unclipped, as a hand-edited file could hold
    record["plugin"] = plugin
    path = folder / name
    path.write_text(json.dumps(record))
    return path


def push(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["push", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def zameq2_values(**named: float) -> dict[str, float]:
    return ZAMEQ2.values_dict(with_values(ZAMEQ2, **named))


def test_push_sets_every_parameter_by_name_and_the_fixed_ones(ardour, tmp_path, capsys) -> None:
    with ArdourSurface(port=ardour.port) as surface:  # a master gain the push must put back (a fixed parameter)
        index = {p.name: p.index for p in surface.descriptors(1, 1)}["Master Gain"]
        surface.set_parameter(1, 1, index, 5.0)
    values = zameq2_values(low_gain_db=-4.5, low_freq_hz=120.0, peak1_gain_db=3.25, peak1_freq_hz=800.0,
                           peak1_bw_oct=1.5, peak2_gain_db=-7.0, peak2_freq_hz=4000.0, high_gain_db=2.0)
    code, out, err = push(capsys, str(settings_file(tmp_path, values)), "--daw", "ardour", "--port", str(ardour.port),
                          "--strip", "1", "--plugin", "1")
    assert code == 0, err
    assert "0 clipped, all confirmed by reading back" in out
    now = read_values(ardour)
    for spec in ZAMEQ2.parameters:
        assert now[spec.plugin_name] == pytest.approx(values[spec.name], rel=1e-6), spec.name
    assert now["Master Gain"] == 0.0 and now["Peaks ON"] == 0.0


def test_a_value_outside_the_plugins_range_is_clipped_and_reported(ardour, tmp_path, capsys) -> None:
    code, out, err = push(capsys, str(settings_file(tmp_path, zameq2_values(peak1_gain_db=30.0))), "--daw", "ardour",
                          "--port", str(ardour.port))
    assert code == 0, err
    assert "clipped: peak1_gain_db 30 -> 20" in out
    assert read_values(ardour)["Boost/Cut 1"] == 20.0  # ZamEQ2's own maximum, as Ardour reads it back


def test_a_plugin_that_is_not_the_profiles_is_refused_naming_both(ardour, tmp_path, capsys) -> None:
    before = read_values(ardour, plugin=2)
    code, _, err = push(capsys, str(settings_file(tmp_path, zameq2_values(peak1_gain_db=6.0))), "--daw", "ardour",
                        "--port", str(ardour.port), "--plugin", "2")
    assert code == 1 and len(err.splitlines()) == 1
    assert "'ZamComp'" in err and "'zameq2'" in err and "'zamcomp'" in err
    assert read_values(ardour, plugin=2) == before


@pytest.mark.parametrize("option, value, expected", [("--strip", "9", "has no strip 9; its strips: 1 'track'"),
                                                     ("--plugin", "5", "has no plugin 5; its plugins: 1 'ZamEQ2', 2 'ZamComp'")])
def test_no_such_strip_or_plugin(ardour, tmp_path, capsys, option, value, expected) -> None:
    code, _, err = push(capsys, str(settings_file(tmp_path, zameq2_values())), "--daw", "ardour",
                        "--port", str(ardour.port), option, value)
    assert code == 1 and expected in err


def test_a_renamed_parameter_is_an_error_and_sets_nothing(ardour, tmp_path, capsys) -> None:
    raw = json.loads((PROFILES_DIR / "zameq2.json").read_text())
    raw["parameters"][0]["plugin_name"] = "Boost/Cut Low"  # as if another build of ZamEQ2 renamed it
    profile = tmp_path / "zameq2-renamed.json"
    profile.write_text(json.dumps(raw))
    before = read_values(ardour)
    code, _, err = push(capsys, str(settings_file(tmp_path, zameq2_values(peak1_gain_db=-9.0), plugin=str(profile))),
                        "--daw", "ardour", "--port", str(ardour.port))
    assert code == 1 and "no parameter(s) ['Boost/Cut Low']" in err and "'Boost/Cut L'" in err
    assert read_values(ardour) == before


def test_settings_of_another_profile_are_refused(ardour, tmp_path, capsys) -> None:
    lsp = load_profile("lsp-para-eq")
    faust = settings_file(tmp_path, load_profile("faust-peq").values_dict(load_profile("faust-peq").default_values()),
                          plugin="faust-peq", name="faust.json")
    code, _, err = push(capsys, str(faust), "--daw", "ardour", "--port", str(ardour.port))
    assert code == 1 and "profile 'faust-peq' has no Ardour mapping" in err
    record = json.loads(faust.read_text()) | {"plugin": "zameq2", "values": lsp.values_dict(lsp.default_values())}
    (tmp_path / "mixed.json").write_text(json.dumps(record))
    code, _, err = push(capsys, str(tmp_path / "mixed.json"), "--daw", "ardour", "--port", str(ardour.port))
    assert code == 1 and "do not fit profile 'zameq2'" in err and "peak1_q" in err


def test_an_ardour_that_does_not_answer_is_a_clear_error_after_the_timeout(tmp_path, capsys) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        code, _, err = push(capsys, str(settings_file(tmp_path, zameq2_values())), "--daw", "ardour",
                            "--port", str(silent.getsockname()[1]), "--timeout-seconds", "0.3")
    finally:
        silent.close()
    assert code == 1 and "Ardour did not answer /strip/list" in err and "within 0.3 s" in err


ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "examples" / "audio"


@pytest.fixture(scope="module")
def bridge(ardour, tmp_path_factory):
    """`eqbridge serve --plugin zameq2 --daw ardour:127.0.0.1:PORT`, replying to each sender's own port."""
    bounces = tmp_path_factory.mktemp("bounces")
    for name in ("track.flac", "reference.flac"):
        shutil.copy(AUDIO / name, bounces / name)
    automation = tmp_path_factory.mktemp("automation")
    proc, port = start_server(bounces, "--plugin", "zameq2", "--daw", f"ardour:127.0.0.1:{ardour.port}",
                              "--automation-dir", str(automation), "--allow-dir", str(ardour.session / "interchange"),
                              cwd=ROOT)
    client = EqbridgeClient(port=port, timeout_s=60.0)
    try:
        yield client, bounces, automation
    finally:
        client.close()
        stop_server(proc)


def test_a_region_matched_through_the_bridge_lands_in_ardour(ardour, bridge) -> None:
    client, bounces, _ = bridge
    client.send("/eqbridge/match_region", 7, str(bounces / "track.flac"), 1.0, 6.0, str(bounces / "reference.flac"),
                1, 1)
    msgs = client.until_done(7)
    assert msgs[-1].address == "/eqbridge/done", msgs[-1].params
    (settings,) = [dict(zip(m.params[1::2], m.params[2::2])) for m in msgs if m.address == "/eqbridge/settings"]
    (pushed,) = [m.params for m in msgs if m.address == "/eqbridge/pushed"]
    assert pushed == [7, 1, 1, ZAMEQ2.n_params + len(ZAMEQ2.fixed), 0]
    assert [m.address for m in msgs].index("/eqbridge/pushed") < [m.address for m in msgs].index("/eqbridge/automation")
    now = read_values(ardour)
    for spec in ZAMEQ2.parameters:  # what Ardour holds is what the match answered
        assert now[spec.plugin_name] == pytest.approx(settings[spec.name], rel=1e-5), spec.name


def test_a_bridge_push_onto_the_wrong_plugin_is_an_error_reply(ardour, bridge) -> None:
    client, bounces, _ = bridge
    before = read_values(ardour, plugin=2)
    client.send("/eqbridge/match_region", 8, str(bounces / "track.flac"), 0.0, 0.0, str(bounces / "reference.flac"),
                1, 2)
    msgs = client.until_done(8)
    assert msgs[-1].address == "/eqbridge/error" and "'ZamComp'" in msgs[-1].params[1]
    assert "/eqbridge/pushed" not in [m.address for m in msgs]
    assert read_values(ardour, plugin=2) == before


def test_the_lua_script_writes_the_automation_eqbridge_wrote_onto_ardours_lanes(bridge, tmp_path) -> None:
    client, bounces, automation = bridge
    result = client.match_files(9, bounces / "track.flac", bounces / "reference.flac")
    assert "error" not in result, result.get("error")
    record = json.loads((automation / "eqbridge-9.automation.json").read_text())
    assert record["format"] == "eqbridge-automation-1" and record["daw_plugin_names"] == ["ZamEQ2"]
    for lane in record["lanes"]:  # the JSON's lanes are the OSC reply's, in both units
        sent = np.array(result["automation"][lane["name"]])  # (points, 2): time_s, normalized (float32 on the wire)
        np.testing.assert_allclose(sent, np.column_stack([lane["times_s"], lane["values_norm"]]), rtol=1e-6)
        spec = ZAMEQ2.parameter(lane["name"])
        assert lane["values"] == pytest.approx(list(spec.from_norm(lane["values_norm"])), rel=1e-9)

    session = build_session(tmp_path)  # a session of its own: the running one stays untouched
    start_s = 2.5
    points, errors = run_automation_script(session, automation / "eqbridge-9.automation.json", start_s=start_s)
    assert errors == []
    assert set(points) == {lane["plugin_name"] for lane in record["lanes"]}  # only the lanes of the JSON
    for lane in record["lanes"]:
        got = points[lane["plugin_name"]]
        assert [s for s, _ in got] == [round((start_s + t) * 48000) for t in lane["times_s"]], lane["name"]
        assert [v for _, v in got] == pytest.approx(lane["values"], rel=1e-7), lane["name"]
    saved = (session / "eqbridge.ardour").read_text()
    assert saved.count('state="Play"') >= len(record["lanes"])

    points, errors = run_automation_script(session, automation / "eqbridge-9.automation.json", plugin=2)
    assert len(errors) == 1 and "'ZamComp'" in errors[0] and "zameq2" in errors[0]
    assert points == {}  # ZamComp's lanes stay empty


MATCH_SCRIPT = ROOT / "examples" / "ardour_eqbridge_match.lua"
RECORD_LUA = """
local track = Session:route_by_name("track"):to_track()
track:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
Session:maybe_enable_record(false)
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep(2500000)
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
for _ = 1, 100 do
  if not track:playlist():region_list():empty() then break end
  ARDOUR.LuaAPI.usleep(50000)
end
track:rec_enable_control():set_value(0, PBD.GroupControlDisposition.NoGroup)
local region = nil
for r in track:playlist():region_list():iter() do region = r end
print("region\t" .. region:to_audioregion():source(0):to_filesource():path())
"""


def test_the_match_action_script_sends_a_region_that_lands_in_ardour(ardour, bridge) -> None:
    """examples/ardour_eqbridge_match.lua inside the running Ardour: a region recorded there (the dummy
    backend records silence, so its file then gets music) is sent to the bridge with ARDOUR.LuaOSC, and the
    bridge's settings for that region land on the track's ZamEQ2 (checked against the same match in-process)."""
    from host.osc.handlers import ServeConfig, load_region, match_settings
    from host.osc.server import plugin_indices

    client, bounces, _ = bridge
    (line,) = [x for x in ardour.run_lua(RECORD_LUA) if x.startswith("region\t")]
    source = Path(line.split("\t")[1])
    info = sf.info(str(source))
    music, rate = sf.read(str(AUDIO / "track.flac"), dtype="float32")
    music = soxr.resample(music, rate, info.samplerate)[:info.frames]
    assert len(music) == info.frames  # the region is shorter than the 8 s clip
    sf.write(str(source), music, info.samplerate, subtype=info.subtype)

    with ArdourSurface(port=ardour.port) as surface:  # a value no match gives: the push must replace it
        surface.set_parameter(1, 1, 1, -40.0)
    printed = ardour.run_lua(f"""
function ardour(_) end
dofile("{MATCH_SCRIPT}")
local region = nil
for r in Session:route_by_name("track"):to_track():playlist():region_list():iter() do region = r end
eqbridge_send(Session, region, {{reference = "{bounces / 'reference.flac'}", plugin = "ZamEQ2",
                                 eqbridge = "osc.udp://127.0.0.1:{client.server[1]}"}}, 31)
""")
    assert "eqbridge: request 31 sent (strip 1, plugin 1); the EQ changes once matched" in printed
    deadline = time.monotonic() + 60
    while read_values(ardour)["Boost/Cut 1"] == -40.0:
        assert time.monotonic() < deadline, "the match never landed in Ardour"
        time.sleep(0.2)
    time.sleep(0.2)  # the other values are set in the same burst

    config = ServeConfig(profile=ZAMEQ2, allowed_dirs=(), plugin_indices=plugin_indices(ZAMEQ2))
    expected, _ = match_settings(config, *load_region(source, 0.0, info.frames / info.samplerate,
                                                      bounces / "reference.flac"))
    now = read_values(ardour)
    for spec in ZAMEQ2.parameters:
        assert now[spec.plugin_name] == pytest.approx(expected[spec.name], rel=1e-5), spec.name

"""`eqbridge push --daw reaper`: REAPER's default OSC pattern, checked message by message by a python-osc
peer on 127.0.0.1 that stands in for REAPER (REAPER cannot be installed here)."""

from __future__ import annotations

import json
import threading

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from host.cli import main
from model.profiles import load_profile
from tests.plugins import with_values

ZAMEQ2 = load_profile("zameq2")


class ReaperPeer:
    """Records every message; with ``echo``, sends each back to the sender as REAPER's feedback does."""

    def __init__(self, echo: bool) -> None:
        self.received: list[tuple[str, list]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle, needs_reply_address=True)
        self.echo = echo
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, client, address: str, *args) -> None:
        self.received.append((address, list(args)))
        if self.echo:
            SimpleUDPClient(*client).send_message(address, list(args))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(params=[True, False], ids=["echoes", "silent"])
def peer(request):
    p = ReaperPeer(echo=request.param)
    yield p
    p.close()


def test_push_sends_reapers_default_pattern_with_normalized_values(peer, tmp_path, capsys) -> None:
    values = ZAMEQ2.values_dict(with_values(ZAMEQ2, peak1_gain_db=6.0, peak1_freq_hz=1000.0, low_gain_db=-8.0))
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"plugin": "zameq2", "values": values}))
    code = main(["push", str(path), "--daw", "reaper", "--port", str(peer.port), "--reply-port", "0",
                 "--track", "2", "--fx", "3", "--timeout-seconds", "1"])
    out = capsys.readouterr().out
    assert code == 0
    got = {address: args for address, args in peer.received}
    assert len(peer.received) == len(got) == ZAMEQ2.n_params + len(ZAMEQ2.fixed)
    # ZamEQ2's own VST indices, 1-based, and its normalized ranges: gain -50..20 dB, frequency 20..14000 Hz
    assert got["/track/2/fx/3/fxparam/1/value"] == [pytest.approx((6.0 + 50.0) / 70.0)]       # Boost/Cut 1
    assert got["/track/2/fx/3/fxparam/3/value"] == [pytest.approx((1000.0 - 20.0) / 13980.0)]  # Frequency 1
    assert got["/track/2/fx/3/fxparam/7/value"] == [pytest.approx((-8.0 + 50.0) / 70.0)]      # Boost/Cut L
    assert got["/track/2/fx/3/fxparam/11/value"] == [0.5]   # Master Gain held at 0 dB (fixed)
    assert got["/track/2/fx/3/fxparam/12/value"] == [0.0]   # Peaks ON off (fixed)
    assert all(isinstance(args[0], float) and len(args) == 1 for args in got.values())
    if peer.echo:
        assert "all confirmed by reading back" in out
    else:
        assert f"{len(got)} not echoed back" in out


def test_options_of_the_other_daw_are_refused(tmp_path, capsys) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"plugin": "zameq2", "values": ZAMEQ2.values_dict(ZAMEQ2.default_values())}))
    assert main(["push", str(path), "--daw", "reaper", "--strip", "1"]) == 1
    assert "--strip do(es) not apply to --daw reaper" in capsys.readouterr().err

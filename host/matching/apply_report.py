"""What `eqbridge apply` reports: the markdown table per stem (distances from host.spectrum)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence


from model.atomic import write_text_atomic

def _fmt(value: object, spec: str = ".2f") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else format(value, spec)
    return str(value)


def _summary_row(name: str, record: Mapping | None, status: str, error: str | None) -> str:
    if record is None:
        return f"| {name} | {status}: {(error or '').replace('|', '/')} | – | – | – | – | – | – |"
    m = record["metrics"]
    clipping = (f"{m['clipped_samples']} samples clipped" if m["clipped_samples"]
                else ("over 0 dBFS (float file keeps it)" if m["peak_dbfs"] > 0 else "none"))
    return (f"| {name} | {status} | {_fmt(m['tonal_rms_db_before'])} | {_fmt(m['tonal_rms_db_after'])} | "
            f"{_fmt(m['peak_dbfs'], '+.2f')} | {_fmt(m['output_gain_db'], '+.2f')} | {clipping} | "
            f"{record['amount_percent']:g}% |")


def _settings_table(record: Mapping) -> list[str]:
    lines = ["| parameter | value | normalized | plugin index | note |", "|---|---|---|---|---|"]
    changes = {c["name"]: c for c in record.get("gain_changes", [])}
    for name, value in record["values"].items():
        norm = record["normalized"][name]
        note = ""
        if name in changes:
            c = changes[name]
            note = f"predicted {c['predicted_db']:+.2f} dB"
            if c["capped_by_max_gain"]:
                note += f", capped at ±{record['max_gain_db']:g} dB"
            if c["clipped_to_range"]:
                note += ", clipped to the profile's range"
        lines.append(f"| {name} | {value:.3f} | {norm['value']:.5f} | {norm['index']} | {note} |")
    return lines


def render_report(title: str, header: Sequence[str],
                  rows: Sequence[tuple[str, Mapping | None, str, str | None]]) -> str:
    """Markdown: one summary row per stem (name, status, distances, peak, gain, clipping), then each stem's settings.

    ``rows``: (stem file name, its settings record or None, status, error message or None).
    """
    lines = [f"# {title}", "", *header, "",
             "Tonal distance: RMS difference (dB) over 64 mel bands of the mean-removed log-mel average spectra "
             "of the stem and the reference (host.spectrum.tonal_rms_db; lower is closer).", "",
             "| stem | status | tonal distance before (dB RMS) | after (dB RMS) | peak (dBFS) | output gain (dB) | clipping "
             "| amount |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_summary_row(name, record, status, error) for name, record, status, error in rows]
    for name, record, _, _ in rows:
        if record is None:
            continue
        lines += ["", f"## {name}", "", f"Plugin `{record['plugin']}`, checkpoint `{record['checkpoint']}`, "
                  f"mode {record['mode']}, amount {record['amount_percent']:g}%, max gain "
                  f"{_fmt(record['max_gain_db'], 'g')} dB.", ""]
        lines += [f"- {note}" for note in record.get("notes", [])]
        if record.get("notes"):
            lines.append("")
        if "stereo_channels" in record:  # --stereo mid-side / left-right: one table per channel
            for channel, settings in record["stereo_channels"].items():
                lines += ["", f"### {channel}", ""]
                lines += _settings_table({**settings, "max_gain_db": record["max_gain_db"]})
        else:
            lines += _settings_table(record)
    return "\n".join(lines) + "\n"


def write_report(path: Path | str, text: str) -> Path:
    return write_text_atomic(path, text)

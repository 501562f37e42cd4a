"""The output-level guard of every command that writes rendered audio (`match`, `apply`).

An EQ that boosts can push the plugin's output past 0 dBFS. A float file keeps the overs; a fixed-point
file would clip them. With ``no_clip`` the output gain brings the peak to NO_CLIP_CEILING_DBFS; without
it the overs stay, and the note says exactly how many samples a fixed-point file clips. Either way the
result records the peak and the level change, so nothing happens silently.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

FIXED_POINT_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ALAC_16", "ALAC_20", "ALAC_24",
                        "ALAC_32")
NO_CLIP_CEILING_DBFS = -0.1  # --no-clip: the output gain brings the peak to this level


def peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


@dataclass(frozen=True)
class OutputLevel:
    """What was done to the level of one rendered output."""

    peak_dbfs: float                     # of the file as written (before fixed-point clipping)
    peak_before_output_gain_dbfs: float  # the plugin's output
    output_gain_db: float                # 0 unless --no-clip lowered it
    clipped_samples: int                 # samples a fixed-point file clips at 0 dBFS
    subtype: str

    def note(self) -> str | None:
        """One line for a person, or None when the output stays below 0 dBFS untouched."""
        if self.output_gain_db:
            return (f"--no-clip: output gain {self.output_gain_db:+.2f} dB (the plugin's output peaked at "
                    f"{self.peak_before_output_gain_dbfs:+.2f} dBFS)")
        if self.peak_before_output_gain_dbfs > 0:
            what = (f"{self.clipped_samples} samples clipped at 0 dBFS in the {self.subtype} file"
                    if self.clipped_samples else f"the {self.subtype} file keeps the overs")
            return (f"peak {self.peak_before_output_gain_dbfs:+.2f} dBFS: {what}; use --no-clip to lower the "
                    f"output gain instead")
        return None

    def to_json(self) -> dict:
        return asdict(self)


def guard_output_level(rendered: np.ndarray, subtype: str, no_clip: bool) -> tuple[np.ndarray, OutputLevel]:
    """The audio to write (its gain lowered with ``no_clip`` when it would exceed the ceiling) and what was done."""
    raw = peak_dbfs(rendered)
    gain_db = NO_CLIP_CEILING_DBFS - raw if no_clip and raw > NO_CLIP_CEILING_DBFS else 0.0
    if gain_db:
        rendered = (rendered * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    clipped = int(np.count_nonzero(np.abs(rendered) > 1.0)) if subtype in FIXED_POINT_SUBTYPES else 0
    return rendered, OutputLevel(peak_dbfs(rendered), raw, gain_db, clipped, subtype)

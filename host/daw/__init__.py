"""The DAW side: eqbridge's settings pushed into Ardour and REAPER through their own OSC surfaces."""

"""A player that plays a WAV file to nowhere, in real time: ``python null_sink.py FILE.wav``.

The benchmarks' stand-in for a speaker (``[voice] player``): it takes as long as the sound does,
as ``aplay`` on a real sound card would, so the announcer is paced as on a counter.
"""

import sys
import time
import wave

if __name__ == "__main__":
    with wave.open(sys.argv[1], "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
    time.sleep(seconds)

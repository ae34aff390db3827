"""Cold import of the typed-model library at the edges, msgspec against pydantic v2: each in a
fresh interpreter, importing the library, declaring one small request model and decoding one
body, best and median of N runs. `python -m tests.bench_models [N]`."""

from __future__ import annotations

import statistics
import subprocess
import sys

SCRIPTS = {
    "msgspec": (
        "import msgspec\n"
        "class Quote(msgspec.Struct, forbid_unknown_fields=True):\n"
        "    plate: str\n    lot_id: str | None = None\n"
        'msgspec.json.decode(b\'{"plate": "B1"}\', type=Quote)\n'
    ),
    "pydantic": (
        "import pydantic\n"
        "class Quote(pydantic.BaseModel):\n"
        "    model_config = pydantic.ConfigDict(extra='forbid', strict=True)\n"
        "    plate: str\n    lot_id: str | None = None\n"
        'Quote.model_validate_json(b\'{"plate": "B1"}\')\n'
    ),
    "nothing": "",
}
TIMED = "import time\nstart = time.perf_counter()\n{body}print(time.perf_counter() - start)\n"


def measure(body: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", TIMED.format(body=body)], capture_output=True, text=True, check=True
        )
        out.append(float(done.stdout) * 1000)
    return out


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    for name, body in SCRIPTS.items():
        times = measure(body, runs)
        print(
            f"{name:9s} best {min(times):6.1f} ms  median {statistics.median(times):6.1f} ms  ({runs} runs)"
        )


if __name__ == "__main__":
    main()

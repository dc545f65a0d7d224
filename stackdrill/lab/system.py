"""Running commands on the machine that hosts the lab."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class LabError(Exception):
    """A lab operation failed; the message is one line for the operator."""


def sh(argv: Sequence[str], *, check: bool = True, timeout: float = 120.0,
       input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]}: not installed (run scripts/setup)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: no answer within {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit status {proc.returncode}"
        raise LabError(f"{' '.join(argv)}: {last}")
    return proc

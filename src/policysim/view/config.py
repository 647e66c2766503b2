"""What ``policysim view`` was started with, shared by the server and the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ViewConfig", "get_config", "set_config"]


@dataclass(frozen=True)
class ViewConfig:
    """Settings of one view server.

    Attributes
    ----------
    host, port : str, int
        Where it listens.
    token : str or None
        Access token required on every request (None on loopback without ``--token``).
    lang : {"zh", "en", "both"}
        Language of the labels and of the briefings it writes.
    scenarios : tuple of Path
        Scenario files given on the command line (offered first).
    runs : tuple of Path
        Run directories given on the command line (opened first).
    scenario_dir : Path
        Folder of shipped scenarios (``scenarios/``).
    results_dir : Path
        Where new runs are written and existing ones listed (``results/``).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    lang: str = "both"
    scenarios: tuple[Path, ...] = ()
    runs: tuple[Path, ...] = ()
    scenario_dir: Path = Path("scenarios")
    results_dir: Path = Path("results")
    extra: dict[str, str] = field(default_factory=dict)

    def url(self) -> str:
        """The address to open (with the token when one is required)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"


_current: ViewConfig = ViewConfig()


def set_config(settings: ViewConfig) -> None:
    """Install the settings the pages read (before the server starts)."""
    global _current
    _current = settings


def get_config() -> ViewConfig:
    """The settings of this server."""
    return _current

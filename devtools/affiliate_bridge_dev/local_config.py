"""Configuration of the local stack: environment first, then an optional ``.env`` file.

Names match the cloud ones where they exist (STRIPE_WEBHOOK_SECRET, ...); each secret
variable may hold several comma-separated values for rotation. Defaults are printed at
start-up so a person can sign requests without reading code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "BRIDGE_PORT": "3000",
    "STRIPE_WEBHOOK_SECRET": "whsec_local_development_secret",
    "PADDLE_WEBHOOK_SECRET": "pdl_ntfset_local_development_secret",
    "REFERRALS_API_TOKEN": "local-referrals-token",
    "PARTNERO_WEBHOOK_SECRET": "partnero_local_webhook_secret",
    "PARTNERO_API_URL": "",
    "PARTNERO_API_KEY": "",
    "LOCAL_STATE_DIR": ".local-stack",
    "MOTO_PORT": "0",
    "SANDBOX_PORT": "0",
    "RETRY_BASE_SECONDS": "5",
    "RETRY_MAX_SECONDS": "60",
}


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped; optional quotes removed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def write_dotenv_value(path: Path, name: str, value: str) -> None:
    """Set ``name`` in a .env file (replacing its line, or appended), keeping every other
    line as it was; the file is private to its owner (it holds secrets)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    line = f"{name}={value}"
    for index, raw in enumerate(lines):
        key = raw.strip().partition("=")[0].strip().removeprefix("export ").strip()
        if "=" in raw and not raw.strip().startswith("#") and key == name:
            lines[index] = line
            break
    else:
        lines.append(line)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class LocalConfig:
    values: Mapping[str, str]
    sources: Mapping[str, str]  # name -> "env", ".env" or "default"
    dotenv_path: Path = Path(".env")

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    @property
    def port(self) -> int:
        return int(self.values["BRIDGE_PORT"])

    @property
    def uses_real_affiliate_api(self) -> bool:
        return bool(self.values["PARTNERO_API_KEY"])

    @property
    def state_dir(self) -> Path:
        return Path(self.values["LOCAL_STATE_DIR"])


def load_config(environ: Mapping[str, str] | None = None, dotenv_path: Path = Path(".env")) -> LocalConfig:
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(dotenv_path)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, default in DEFAULTS.items():
        if environ.get(name):
            values[name], sources[name] = environ[name], "env"
        elif dotenv.get(name):
            values[name], sources[name] = dotenv[name], ".env"
        else:
            values[name], sources[name] = default, "default"
    # Anything else in .env (COMMISSION_EXCLUDES_TAX, ...) reaches the handlers too.
    for name, value in dotenv.items():
        if name not in values and name not in environ:
            values[name], sources[name] = value, ".env"
    if values["PARTNERO_API_KEY"] and not values["PARTNERO_API_URL"]:
        values["PARTNERO_API_URL"], sources["PARTNERO_API_URL"] = "https://api.partnero.com", "default"
    return LocalConfig(values, sources, dotenv_path)

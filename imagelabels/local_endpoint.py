"""The record a running local AWS keeps in its state folder (.local-aws/endpoint.json): where it
answers, its Region and account, and its process. `python -m local_aws` writes and reads it, and
`imagelabels --local` reads it; both go through this module, so the file's name and fields are
written down once. It lives in the command's package because the command must work with only
boto3 installed, and local_aws may import imagelabels but never the reverse."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from imagelabels.errors import UserError

STATE_DIR = Path(".local-aws")
ENDPOINT_FILE = "endpoint.json"
# Distribution id -> the URL the local page gateway serves its page on (written at each deploy).
PAGES_FILE = "pages.json"
NOT_RUNNING = "local AWS is not running: make demo / python -m local_aws start"


def endpoint_file(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / ENDPOINT_FILE


@dataclass(frozen=True, kw_only=True)
class EndpointRecord:
    endpoint_url: str
    region: str | None = None
    account_id: str | None = None
    pid: int | None = None

    @property
    def complete(self) -> bool:
        """Whether every field is there, as the launcher writes them (a hand-made record may lack some)."""
        return self.region is not None and self.account_id is not None and self.pid is not None


def read_endpoint_record(path: Path) -> EndpointRecord:
    """The record at `path`; UserError saying what is wrong when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{NOT_RUNNING} ({path} not found)") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoint_url"), str) or not data["endpoint_url"]:
        raise UserError(f"{path} has no endpoint_url; restart the local AWS (make demo / python -m local_aws start)")
    pid = data.get("pid")
    return EndpointRecord(
        endpoint_url=data["endpoint_url"],
        region=_text_or_none(data.get("region")),
        account_id=_text_or_none(data.get("account_id")),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
    )


def write_endpoint_record(path: Path, record: EndpointRecord) -> None:
    _write_json(path, asdict(record))


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)  # readers never see half a file


def pages_file(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / PAGES_FILE


def write_page_urls(path: Path, urls: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path, urls)


def read_page_url(path: Path, distribution_id: str) -> str:
    """The local URL of the page `distribution_id` serves; UserError when the local AWS serves none."""
    try:
        urls = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"the local AWS serves no web page ({path} not found): deploy the stack into it") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    url = urls.get(distribution_id) if isinstance(urls, dict) else None
    if not isinstance(url, str) or not url:
        raise UserError(f"the local AWS serves no page for distribution {distribution_id} ({path})")
    return url


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

"""Streaming replicate results to a Parquet dataset, with a manifest for resume.

A run directory holds ``manifest.json`` (the run's parameters) and one file
per finished chunk, ``chunk-000123.parquet``. Every file is written under a
temporary name and renamed into place, so a file with the final name is
always complete: a run killed at any moment leaves only whole chunks behind,
and re-running with the same directory computes the missing chunks only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from resolve.errors import DataValidationError

__all__ = ["MANIFEST_NAME", "RunManifest", "RunStore"]

MANIFEST_NAME = "manifest.json"
_FORMAT = "resolve.design.replicates/1"


@dataclass(frozen=True)
class RunManifest:
    """Parameters that fix the content of every chunk of a run.

    Attributes
    ----------
    seed : int
        Root seed of :class:`numpy.random.SeedSequence`.
    reps : int
        Number of replicates.
    chunk_size : int
        Replicates per chunk (the last chunk may be shorter).
    fn : str
        Qualified name of the replicate function.
    fn_version : str
        Caller-supplied version of the function and its bound arguments.
    """

    seed: int
    reps: int
    chunk_size: int
    fn: str
    fn_version: str

    @property
    def n_chunks(self) -> int:
        """Number of chunks, ``ceil(reps / chunk_size)``."""
        return -(-self.reps // self.chunk_size)

    def to_json(self) -> str:
        """The manifest as indented JSON text with sorted keys."""
        payload = {"format": _FORMAT, **asdict(self), "n_chunks": self.n_chunks}
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def _chunk_name(index: int) -> str:
    return f"chunk-{index:06d}.parquet"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class RunStore:
    """A run directory: manifest plus one Parquet file per finished chunk.

    Parameters
    ----------
    root : str or os.PathLike
        The directory. Created if missing.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def manifest_path(self) -> Path:
        """Path of ``manifest.json``."""
        return self.root / MANIFEST_NAME

    def read_manifest(self) -> dict[str, object] | None:
        """The stored manifest as a dict, or None if the run is new."""
        path = self.manifest_path()
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataValidationError(f"{path}: unreadable run manifest ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise DataValidationError(f"{path}: not a resolve replicate-run manifest")
        return data

    def open(self, manifest: RunManifest) -> None:
        """Create the run or check that ``manifest`` matches the stored one.

        Raises
        ------
        DataValidationError
            If the directory holds a different run (any parameter differs),
            or chunk files without a manifest.
        """
        stored = self.read_manifest()
        if stored is None:
            if self.root.exists() and any(self.root.glob("chunk-*.parquet")):
                raise DataValidationError(
                    f"{self.root}: holds chunk files but no {MANIFEST_NAME}; "
                    "refusing to mix them with a new run"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            _atomic_write_bytes(self.manifest_path(), manifest.to_json().encode("utf-8"))
            return
        expected = json.loads(manifest.to_json())
        diffs = [
            f"{key}: stored {stored.get(key)!r}, requested {value!r}"
            for key, value in sorted(expected.items())
            if stored.get(key) != value
        ]
        if diffs:
            raise DataValidationError(
                f"{self.manifest_path()}: the run on disk has different parameters "
                f"({'; '.join(diffs)}); use another output directory or the same parameters"
            )

    def stored_chunk_size(self) -> int | None:
        """Chunk size recorded in an existing manifest, or None."""
        stored = self.read_manifest()
        if stored is None:
            return None
        value = stored.get("chunk_size")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DataValidationError(
                f"{self.manifest_path()}: chunk_size must be a positive integer, got {value!r}"
            )
        return value

    def chunk_path(self, index: int) -> Path:
        """Path of the Parquet file of chunk ``index``."""
        return self.root / _chunk_name(index)

    def done_chunks(self, n_chunks: int) -> set[int]:
        """Indices of chunks already complete on disk."""
        return {k for k in range(n_chunks) if self.chunk_path(k).exists()}

    def write_chunk(self, index: int, table: pa.Table) -> None:
        """Write one chunk atomically (temporary name, then rename)."""
        final = self.chunk_path(index)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        pq.write_table(table, tmp)
        os.replace(tmp, final)

    def read_chunk(self, index: int) -> pa.Table:
        """Read chunk ``index`` back."""
        return pq.read_table(self.chunk_path(index))

    def clean_temporaries(self) -> None:
        """Remove temporary files left by an interrupted writer."""
        for tmp in self.root.glob(".chunk-*.parquet.tmp-*"):
            tmp.unlink(missing_ok=True)

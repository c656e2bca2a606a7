"""Trial reports: one self-contained HTML file plus every table as CSV and JSON.

:func:`write_report` writes ``report.html`` and, through
:func:`resolve.analysis.run.write_tables`, every table as CSV and JSON, all or
nothing. :func:`write_html` writes only ``report.html`` (for use as an
``extra`` writer of :func:`~resolve.analysis.run.write_tables`).

Figures need matplotlib (``pip install 'resolve[plot]'``), imported only when a
report is written.
"""

from __future__ import annotations

from pathlib import Path

from resolve.analysis.result import TrialAnalysis

__all__ = ["write_html", "write_report"]


def write_html(
    analysis: TrialAnalysis,
    out_dir: str | Path,
    *,
    title: str | None = None,
    data_label: str = "data supplied by the user",
    seed: int | None = None,
) -> Path:
    """Write only ``report.html`` into ``out_dir`` (created if needed); return its path.

    Parameters are those of :func:`write_report`.
    """
    from resolve.report.html import render_html

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    text = render_html(analysis, title=title, data_label=data_label, seed=seed)
    path = folder / "report.html"
    path.write_text(text, encoding="utf-8")
    return path


def write_report(
    analysis: TrialAnalysis,
    out_dir: str | Path,
    *,
    title: str | None = None,
    data_label: str = "data supplied by the user",
    seed: int | None = None,
    tables: bool = True,
) -> Path:
    """Write ``report.html`` and every table (CSV and JSON) into ``out_dir``.

    Parameters
    ----------
    analysis : TrialAnalysis
        Results of :func:`resolve.analysis.run.analyze`.
    out_dir : str or pathlib.Path
        Output folder, created if needed; existing files of the same names are
        replaced, other files are kept.
    title : str, optional
        Report title (default "<trial> trial: analysis report").
    data_label : str
        How the report's summary describes the data.
    seed : int, optional
        Seed of simulated data, recorded in the report.
    tables : bool
        Also write the tables (:func:`resolve.analysis.run.write_tables`:
        ``primary``, ``modifiers``, ... as ``.csv`` and ``.json``, and
        ``analysis.json``). With ``False`` only ``report.html`` is written.

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    resolve.errors.ResolveError
        If matplotlib is not installed (install ``resolve[plot]``).

    Notes
    -----
    The HTML is self-contained (inline CSS and SVG figures, no scripts, no
    external references) and deterministic: the same analysis gives the same
    bytes. With ``tables=True`` the report and the tables are written into a
    temporary folder and moved into place together, so a failure leaves
    nothing half-written.
    """
    if not tables:
        return write_html(analysis, out_dir, title=title, data_label=data_label, seed=seed)
    from resolve.analysis.run import write_tables

    def html(a: TrialAnalysis, folder: Path) -> None:
        write_html(a, folder, title=title, data_label=data_label, seed=seed)

    write_tables(analysis, out_dir, extra=[html])
    return Path(out_dir) / "report.html"

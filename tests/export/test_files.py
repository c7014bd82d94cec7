"""Export folders: atomic, private, replaceable; the cooldown and the suppression list."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn import export
from churn.errors import DataError

AS_OF = pd.Timestamp("2024-06-01")
FILES = {
    export.SCORES,
    export.AT_RISK_CSV,
    export.AT_RISK_PARQUET,
    export.REJECTS,
    export.MANIFEST,
}


def _at_risk(ids: list[str], offers: list[str | None], *, reason: str = "x") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="string"),
            "as_of": AS_OF,
            "churn_probability": [0.9 - 0.1 * i for i in range(len(ids))],
            "offer": pd.Series(offers, dtype="string"),
            "offer_cost": [0.0 if o is None else 3.0 for o in offers],
            "reason_1": pd.Series([reason] * len(ids), dtype="string"),
        }
    )


def _frames(tag: str = "first") -> dict[str, Any]:
    at_risk = _at_risk(
        ["007", "b", "c"],
        ["win_back", None, "personal_call"],
        reason="no purchase for 74 days, usually every 21 — café",
    )
    scores = pd.DataFrame(
        {
            "customer_id": pd.Series(["007", "b", "c", "d"], dtype="string"),
            "status": pd.Series(["scored", "scored", "scored", "lapsed"], dtype="string"),
            "churn_probability": [0.9, 0.8, 0.7, float("nan")],
        }
    )
    rejects = pd.DataFrame({"customer_id": ["z"], "reason": ["first seen after the as-of date"]})
    manifest = {"as_of": AS_OF, "model_version": tag, "counts": {"high": 3}}
    return {"scores": scores, "at_risk": at_risk, "rejects": rejects, "manifest": manifest}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _hidden(parent: Path) -> list[str]:
    """Hidden temporary folders (lock files hold no data and stay)."""
    return sorted(
        p.name for p in parent.iterdir() if p.name.startswith(".") and p.suffix != ".lock"
    )


def test_export_folder_is_dated_by_as_of(tmp_path: Path) -> None:
    assert export.export_folder(tmp_path, AS_OF) == tmp_path / "2024-06-01"
    assert export.export_folder(str(tmp_path), pd.Timestamp("2024-06-01 13:45")) == (
        tmp_path / "2024-06-01"
    )


def test_write_exports_writes_all_files_privately(tmp_path: Path) -> None:
    frames = _frames()
    folder = export.export_folder(tmp_path / "exports", AS_OF)
    assert export.write_exports(folder, **frames) == folder
    assert {p.name for p in folder.iterdir()} == FILES
    assert _mode(folder) == 0o700
    assert {p.name: _mode(p) for p in folder.iterdir()} == dict.fromkeys(FILES, 0o600)
    assert _hidden(folder.parent) == []

    raw = (folder / export.AT_RISK_CSV).read_bytes()
    text = raw.decode("utf-8")
    assert text.splitlines()[0] == ",".join(frames["at_risk"].columns)
    assert "café" in text
    csv = pd.read_csv(folder / export.AT_RISK_CSV, dtype={"customer_id": str}, encoding="utf-8")
    assert csv["customer_id"].tolist() == ["007", "b", "c"]
    assert len(csv) == 3

    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / export.AT_RISK_PARQUET), frames["at_risk"], check_dtype=False
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / export.SCORES), frames["scores"], check_dtype=False
    )
    rejects = pd.read_csv(folder / export.REJECTS)
    assert rejects.to_dict("list") == frames["rejects"].to_dict("list")
    manifest = json.loads((folder / export.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model_version"] == "first"
    assert manifest["counts"] == {"high": 3}
    assert manifest["as_of"].startswith("2024-06-01")


def test_write_exports_replaces_earlier_run(tmp_path: Path) -> None:
    folder = tmp_path / "2024-06-01"
    export.write_exports(folder, **_frames("first"))
    (folder / "stale.csv").write_text("old\n", encoding="utf-8")
    export.write_exports(folder, **_frames("second"))
    assert {p.name for p in folder.iterdir()} == FILES
    manifest = json.loads((folder / export.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model_version"] == "second"
    assert _hidden(tmp_path) == []


def _crash_on_csv(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """Make ``DataFrame.to_csv`` fail; record which files its folder held at that moment."""
    seen: list[set[str]] = []

    def broken(self: pd.DataFrame, path: Any = None, *args: Any, **kwargs: Any) -> None:
        seen.append({p.name for p in Path(path).parent.iterdir()})
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    return seen


def test_write_exports_crash_keeps_previous_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "2024-06-01"
    export.write_exports(folder, **_frames("first"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    seen = _crash_on_csv(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        export.write_exports(folder, **_frames("second"))
    assert seen == [{export.SCORES, export.AT_RISK_PARQUET}]  # crashed half-way
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == ["2024-06-01"]


def test_write_exports_crash_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    seen = _crash_on_csv(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        export.write_exports(root / "2024-06-01", **_frames())
    assert seen == [{export.SCORES, export.AT_RISK_PARQUET}]
    assert [p for p in root.iterdir() if p.suffix != ".lock"] == []


def _offered_on(root: Path, day: str, ids: list[str], offers: list[str | None]) -> None:
    export.write_exports(root / day, **(_frames() | {"at_risk": _at_risk(ids, offers)}))


def test_recently_offered_reads_exports_within_cooldown(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    _offered_on(root, "2024-05-01", ["too_old"], ["win_back"])  # as_of - 31 days
    _offered_on(root, "2024-05-02", ["window_start"], ["win_back"])  # as_of - 30 days: in
    _offered_on(root, "2024-05-31", ["yesterday", "not_offered"], ["personal_call", None])
    _offered_on(root, "2024-06-01", ["same_day"], ["win_back"])  # the run being redone
    _offered_on(root, "2024-06-15", ["later"], ["win_back"])
    _offered_on(root, "latest", ["named"], ["win_back"])
    _offered_on(root, "2024-05-20_backup", ["backup"], ["win_back"])
    (root / "2024-05-21").mkdir()  # a dated folder without an at-risk list
    (root / "notes.txt").write_text("hello\n", encoding="utf-8")

    got = export.recently_offered(root, as_of=AS_OF, cooldown_days=30)
    assert got == {"window_start", "yesterday"}
    assert export.recently_offered(root, as_of=AS_OF, cooldown_days=1) == {"yesterday"}
    assert export.recently_offered(root, as_of=AS_OF, cooldown_days=0) == set()
    later = pd.Timestamp("2024-06-16")
    assert export.recently_offered(root, as_of=later, cooldown_days=1) == {"later"}


def _campaign(root: Path, day: str, horizon: int, rows: dict[str, tuple[str | None, bool]]) -> None:
    """An export on ``day`` with horizon ``horizon``: customer -> (offer, control_group)."""
    ids = list(rows)
    at_risk = _at_risk(ids, [rows[i][0] for i in ids]).assign(
        control_group=[rows[i][1] for i in ids]
    )
    manifest = {"as_of": day, "model": {"horizon_days": horizon}}
    export.write_exports(root / day, **(_frames() | {"at_risk": at_risk, "manifest": manifest}))


def test_open_campaigns_maps_both_arms_of_open_windows(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    _campaign(root, "2024-03-01", 90, {"closed": ("win_back", False)})  # window ends 05-30
    _campaign(root, "2024-04-01", 90, {"a": ("win_back", False), "b": (None, True)})
    _campaign(root, "2024-05-01", 90, {"a": (None, True), "c": (None, False)})
    _campaign(root, "2024-06-01", 90, {"same_day": ("win_back", False)})
    _campaign(root, "2024-05-25", 3, {"short": ("win_back", False)})  # ends 05-28
    (root / "2024-05-20").mkdir()  # no list
    got = export.open_campaigns(root, as_of=AS_OF)
    # the latest open campaign wins; not contacted and not held back: no flag
    assert got == {"a": "2024-05-01", "b": "2024-04-01"}
    assert export.open_campaigns(tmp_path / "none", as_of=AS_OF) == {}


def test_recently_offered_missing_root_is_empty(tmp_path: Path) -> None:
    assert export.recently_offered(tmp_path / "none", as_of=AS_OF, cooldown_days=30) == set()


def test_recently_offered_ignores_relative_date_words(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    _offered_on(root, "today", ["named"], ["win_back"])
    as_of = pd.Timestamp(dt.date.today()) + pd.Timedelta(days=1)
    assert export.recently_offered(root, as_of=as_of, cooldown_days=30) == set()


def test_read_suppression_csv_keeps_ids_as_text(tmp_path: Path) -> None:
    path = tmp_path / "optout.csv"
    path.write_text("customer_id,note\n007,x\n42,\n,missing id\n", encoding="utf-8")
    assert export.read_suppression(path) == {"007", "42"}
    assert export.read_suppression(str(path)) == {"007", "42"}


def test_read_suppression_parquet(tmp_path: Path) -> None:
    path = tmp_path / "optout.parquet"
    pd.DataFrame({"customer_id": ["007", "b", None], "since": [1, 2, 3]}).to_parquet(path)
    assert export.read_suppression(path) == {"007", "b"}


def test_read_suppression_none_is_empty() -> None:
    assert export.read_suppression(None) == set()


def test_read_suppression_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found"):
        export.read_suppression(tmp_path / "absent.csv")
    with pytest.raises(DataError, match=r"not found"):
        export.read_suppression(tmp_path)  # a folder is not a file


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_read_suppression_rejects_missing_column(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"optout{suffix}"
    frame = pd.DataFrame({"id": ["007"]})
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    with pytest.raises(DataError, match=r"expected a customer_id column"):
        export.read_suppression(path)


def test_read_suppression_rejects_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "optout.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError):
        export.read_suppression(path)


def test_write_exports_csv_for_people_parquet_raw(tmp_path: Path) -> None:
    frames = _frames()
    risky = '=HYPERLINK("http://x","y")'
    at_risk = _at_risk([risky, "b"], ["win_back", None], reason="-50% spend")
    at_risk["churn_probability"] = [0.912345678, 0.5]
    at_risk["value"] = [-12.3456, 150.0]
    frames |= {
        "at_risk": at_risk,
        "rejects": pd.DataFrame({"customer_id": ["@cmd"], "reason": ["first seen later"]}),
    }
    folder = export.write_exports(tmp_path / "2024-06-01", **frames)

    lines = (folder / export.AT_RISK_CSV).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "customer_id,as_of,churn_probability,offer,offer_cost,reason_1,value"
    assert lines[1] == (
        '"\'=HYPERLINK(""http://x"",""y"")",2024-06-01,0.912,win_back,3.0,\'-50% spend,-12.35'
    )
    rejects = (folder / export.REJECTS).read_text(encoding="utf-8").splitlines()
    assert rejects == ["customer_id,reason", "'@cmd,first seen later"]
    raw = pd.read_parquet(folder / export.AT_RISK_PARQUET)
    assert raw.loc[0, "customer_id"] == risky
    assert raw.loc[0, "reason_1"] == "-50% spend"
    assert raw.loc[0, "churn_probability"] == 0.912345678
    assert raw.loc[0, "value"] == -12.3456
    offered = export.recently_offered(tmp_path, as_of=pd.Timestamp("2024-06-02"), cooldown_days=30)
    assert offered == {risky}  # the cooldown reads the raw ids back from the Parquet

"""The sample collaborative through the ordinary import path (``qi sample``): the store
shows exactly what the files say, late uploads and the correction keep their history,
and loading twice changes nothing."""

from __future__ import annotations

import pandas as pd

from qi.cli import main
from qi.store import Store
from tests.sample_files import read_manifest, read_uploads


def test_qi_sample_loads_what_the_files_say(store_url, capsys):
    assert main(["--db", store_url, "sample"]) == 0
    out = capsys.readouterr().out
    manifest = read_manifest()
    assert f"{len(manifest)} uploads stored" in out
    with Store.open(store_url) as store:
        shown = store.observations()
        expected = read_uploads()
        got = shown[["team", "measure", "period", "broad_group", "numerator", "denominator"]]
        got = got.rename(columns={"broad_group": "group"})
        key = ["team", "measure", "period", "group"]
        merged = expected.merge(got, on=key, how="outer", suffixes=("_file", "_store"),
                                indicator=True)  # fmt: skip
        assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
        assert (merged["numerator_file"] == merged["numerator_store"]).all()
        pd.testing.assert_series_equal(
            merged["denominator_file"].astype(float), merged["denominator_store"],
            check_names=False,
        )  # fmt: skip
        # the correction is a second version of one team-month, both kept
        history = store.upload_slices()
        versions = history.groupby(["team", "measure", "period"])["upload_id"].nunique()
        assert (versions > 1).sum() >= 1
        # uploads are back-dated to when the manifest says they arrived
        uploads = store.uploads()
        assert uploads["uploaded_at"].min() < pd.Timestamp("2024-01-01")
        counts = store.counts()
    # loading again changes nothing
    assert main(["--db", store_url, "sample"]) == 0
    assert f"0 uploads stored, {len(manifest)} already there" in capsys.readouterr().out
    with Store.open(store_url) as store:
        after = store.counts()
        assert {k: v for k, v in after.items() if k != "audit_log"} == {
            k: v for k, v in counts.items() if k != "audit_log"
        }


def test_an_empty_store_gets_the_sample_when_the_dashboard_opens_it(tmp_path):
    from qi.sample import ensure_sample

    with Store.open(f"sqlite:///{tmp_path / 'new.db'}") as store:
        assert ensure_sample(store)
        assert store.counts()["upload"] == len(read_manifest())
        assert not ensure_sample(store)  # not twice

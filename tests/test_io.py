import json
import math
import os

from aerec.io import write_json


def test_write_json_is_strict_and_atomic(tmp_path):
    path = write_json(tmp_path / "m.json", {"a": math.nan, "b": [math.inf, 1.5], "c": "x"})
    assert json.loads(path.read_text()) == {"a": None, "b": [None, 1.5], "c": "x"}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left
    assert os.stat(path).st_mode & 0o044  # readable by others (umask permitting), not 0600

"""Reading config files: every unusable file is a ConfigError naming file and problem."""

import pytest

from echopilot.config import ConfigError, read_json_config


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": ', "invalid JSON at line 1"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": "x\\u0000"}', "NUL"),
        (b"[" * 100 + b"]" * 100, "nested deeper than 64"),
        (b"[" * 100000 + b"]" * 100000, "nested"),
        (b'{"a": NaN}', "NaN"),
    ],
)
def test_unusable_files_name_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        read_json_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        read_json_config(tmp_path / "absent.json")


def test_good_file_reads(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"payments.live": true, "nested": {"a": [1, 2.5, "é"]}}')
    assert read_json_config(path) == {"payments.live": True, "nested": {"a": [1, 2.5, "é"]}}

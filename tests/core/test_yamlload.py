from pathlib import Path

import pytest

from lanes_tui.core.errors import ConfigError, NotFound
from lanes_tui.core.handoff import load_config
from lanes_tui.core.taskfile import load_task_file
from lanes_tui.core.yamlload import MAX_YAML_BYTES, load_mapping


def write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_keys_name_file_and_line(tmp_path):
    path = write(tmp_path, "a: 1\nb: 2\na: 3\n")
    with pytest.raises(ConfigError, match=rf"{path}:3: duplicate key 'a'"):
        load_mapping(path, what="config")


def test_aliases_are_refused(tmp_path):
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n'
    with pytest.raises(ConfigError, match="anchors are not allowed"):
        load_mapping(write(tmp_path, bomb), what="config")


def test_python_tags_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        load_mapping(write(tmp_path, "a: !!python/object/apply:os.system ['true']\n"), what="config")


def test_size_cap(tmp_path):
    path = write(tmp_path, "a: " + "x" * (MAX_YAML_BYTES + 10) + "\n")
    with pytest.raises(ConfigError, match="too large"):
        load_mapping(path, what="config")


def test_missing_file(tmp_path):
    with pytest.raises(NotFound):
        load_mapping(tmp_path / "nope.yaml", what="config file")


def test_config_defaults_match_agent_lanes(tmp_path):
    from agent_lanes.config import load_config as reference

    (tmp_path / "handoff").mkdir()
    path = write(tmp_path / "handoff", 'workspace_id: "w"\nlanes:\n  default: general\n', "handoff.yaml")
    ours, theirs = load_config(path), reference(path)
    assert (ours.workspace_id, ours.workspace_root, ours.store_root) == (
        theirs.workspace_id,
        theirs.workspace_root,
        theirs.store_root,
    )
    assert ours.lanes == {"default": "general"}


def test_checkpoints_key_points_at_task_files(tmp_path):
    path = write(tmp_path, 'workspace_id: "w"\ncheckpoints: {}\n')
    with pytest.raises(ConfigError, match="--task"):
        load_config(path)


def test_task_file_unknown_keys_are_reported_not_fatal(tmp_path):
    definition = load_task_file(write(tmp_path, 'lane: "x"\nprompt: "p"\nsurprise: 1\nmetadata: {effort: low}\n'))
    assert definition.fields == {"lane": "x", "prompt": "p"}
    assert definition.metadata == {"effort": "low"}
    assert definition.unknown_keys == ("surprise",)


def test_task_file_metadata_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="metadata must be a mapping"):
        load_task_file(write(tmp_path, "metadata: [1, 2]\n"))

"""config.py: defaults, YAML BASE inheritance, --opts, and the errors for bad keys and values."""
import glob
import re

import pytest

from config import ConfigError, _C, load_config


def write(path, text):
    path.write_text(text)
    return str(path)


def test_every_default_has_a_comment(repo_root):
    source = (repo_root / "config.py").read_text()
    for line in source.splitlines():
        if re.match(r"^_C\.[A-Z_.]+ = (?!CN\(\))", line):
            assert "#" in line, f"default without a comment: {line}"


def test_yaml_and_opts_override_defaults(tmp_path):
    cfg = load_config(write(tmp_path / "a.yaml", "TRAIN:\n  LR: 1e-3\n  EPOCHS: 3\n"),
                      ["DATA.BATCH_SIZE", "64", "TRAIN.EPOCHS", "5", "AUG.HFLIP", "0.5"])
    assert cfg.TRAIN.LR == 1e-3 and cfg.TRAIN.EPOCHS == 5 and cfg.DATA.BATCH_SIZE == 64
    assert cfg.AUG.HFLIP == 0.5 and cfg.MODEL.NAME == _C.MODEL.NAME


def test_base_inheritance_child_wins(tmp_path):
    write(tmp_path / "base.yaml", "MODEL:\n  NAME: alexnet\nTRAIN:\n  LR: 0.5\n")
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub" / "child.yaml", "BASE: ['../base.yaml']\nTRAIN:\n  LR: 0.1\n")
    cfg = load_config(child)
    assert cfg.MODEL.NAME == "alexnet" and cfg.TRAIN.LR == 0.1


def test_config_is_frozen():
    cfg = load_config(None)
    with pytest.raises(AttributeError):
        cfg.TRAIN.LR = 1.0


@pytest.mark.parametrize("opts, fragment", [
    (["TRAIN.LRR", "1"], "Nearest valid keys: TRAIN.LR"),
    (["DATA.BATCHSIZE", "1"], "DATA.BATCH_SIZE"),
    (["TRAIN.EPOCHS", "ten"], "expects int"),
    (["TRAIN.LR", "fast"], "expects float"),
    (["DATA.BATCH_SIZE", "1.5"], "expects int"),
    (["TRAIN.EPOCHS"], "KEY VALUE pairs"),
])
def test_bad_opts_name_the_key(opts, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(None, opts)


def test_unknown_yaml_key_names_file_and_nearest(tmp_path):
    path = write(tmp_path / "bad.yaml", "MODEL:\n  NAM: lenet\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "MODEL.NAM" in str(e.value) and "MODEL.NAME" in str(e.value) and "bad.yaml" in str(e.value)


def test_missing_file_and_cycle(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))
    write(tmp_path / "a.yaml", "BASE: ['b.yaml']\n")
    write(tmp_path / "b.yaml", "BASE: ['a.yaml']\n")
    with pytest.raises(ConfigError, match="inherits from itself"):
        load_config(str(tmp_path / "a.yaml"))


def test_timm_kwargs_accept_new_keys():
    cfg = load_config(None, ["MODEL.TIMM.KWARGS.depth", "3", "MODEL.TIMM.KWARGS.embed_dim", "64"])
    assert dict(cfg.MODEL.TIMM.KWARGS) == {"depth": 3, "embed_dim": 64}


def test_every_shipped_config_loads(repo_root):
    files = sorted(glob.glob(str(repo_root / "configs" / "**" / "*.yaml"), recursive=True))
    assert files
    for path in files:
        load_config(path)

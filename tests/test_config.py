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


def test_missing_base_file_names_the_yaml_that_refers_to_it(tmp_path):
    child = write(tmp_path / "child.yaml", "BASE: ['missing_base.yaml']\nTRAIN:\n  LR: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(child)
    message = str(e.value)
    assert "missing_base.yaml' does not exist" in message and f"{child!r} names it in BASE" in message


@pytest.mark.parametrize("opts, fragment", [
    (["DATA.BATCH_SIZE", "0"], "DATA.BATCH_SIZE 0 must be >= 1 (images per micro-batch); e.g. --opts DATA.BATCH_SIZE 32."),
    (["DATA.IMG_SIZE", "-3"], "DATA.IMG_SIZE -3 must be >= 1"),
    (["TRAIN.LR", "0"], "TRAIN.LR 0.0 must be > 0"),
    (["TRAIN.LABEL_SMOOTHING", "1.0"], "TRAIN.LABEL_SMOOTHING 1.0 must lie in [0, 1)"),
    (["TRAIN.EPOCHS", "0"], "TRAIN.EPOCHS 0 must be >= 1 in an epoch-based run"),
    (["TRAIN.VAL_FREQ", "0"], "TRAIN.VAL_FREQ 0 must be >= 1"),
])
def test_values_that_no_run_can_use(opts, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(None, opts)
    load_config(None, ["TRAIN.EPOCHS", "0", "TRAIN.STEPS", "5"])  # a step-based run ignores TRAIN.EPOCHS


@pytest.mark.parametrize("opts, ok", [
    (["MODEL.NAME", "vit", "DATA.IMG_SIZE", "32"], True),
    (["MODEL.NAME", "vit", "DATA.IMG_SIZE", "30"], False),
    (["MODEL.NAME", "vit_b16", "DATA.IMG_SIZE", "224"], True),
    (["MODEL.NAME", "vit_h14", "DATA.IMG_SIZE", "224"], True),
    (["MODEL.NAME", "vit_h14", "DATA.IMG_SIZE", "32"], False),
    (["MODEL.NAME", "alexnet", "DATA.IMG_SIZE", "63"], True),
    (["MODEL.NAME", "alexnet", "DATA.IMG_SIZE", "62"], False),
    (["MODEL.NAME", "lenet", "DATA.IMG_SIZE", "28"], False),
    (["MODEL.NAME", "resnet18", "DATA.IMG_SIZE", "30"], True),
])
def test_image_size_fits_the_model(opts, ok):
    from config import check_model_input

    cfg = load_config(None, opts)
    if ok:
        check_model_input(cfg)
    else:
        with pytest.raises(ConfigError, match=r"DATA.IMG_SIZE \d+ "):
            check_model_input(cfg)


def test_config_diff_names_changed_keys():
    from config import config_diff

    saved = load_config(None, ["TRAIN.LR", "0.01"]).dump()
    assert config_diff(saved, load_config(None, ["TRAIN.LR", "0.01"])) == {}
    assert config_diff(saved, load_config(None, ["TRAIN.LR", "0.1", "TRAIN.BETAS", "[0.9, 0.95]"])) == {
        "TRAIN.BETAS": ([0.9, 0.999], [0.9, 0.95]), "TRAIN.LR": (0.01, 0.1)}


def test_every_runnable_config_fits_its_model(repo_root):
    """Shipped configs pass main.py's image-size checks (``_*`` and ``base_*`` files are only BASEs)."""
    from config import check_model_input

    files = [p for p in sorted(glob.glob(str(repo_root / "configs" / "**" / "*.yaml"), recursive=True))
             if not p.rsplit("/", 1)[1].startswith(("_", "base_"))]
    assert len(files) > 10
    for path in files:
        check_model_input(load_config(path))

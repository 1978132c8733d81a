"""Claims tables from fake finished runs; the sweep's commands and curves."""
from __future__ import annotations

import json
import math
import os
import re

import pytest
import yaml

from research import claims, compare
from research import paper_tables as P
from research.__main__ import main as research_main


def make_run(root, name, arch, pretrained, dataset, accs, epochs=None, ips=256.0, batch=64, model_name="timm",
             test=None, steps=0, steps_per_epoch=3, lr=0.01):
    """A run folder as main.py writes it: config.yaml + metrics.jsonl (accuracies 0..1), and
    results.json with ``test_acc`` when ``test`` is given (main.py writes it when training ends)."""
    folder = os.path.join(root, name)
    os.makedirs(folder)
    config = {"MODEL": {"NAME": model_name, "PRETRAINED": pretrained, "TIMM": {"ARCH": arch, "KWARGS": {}}},
              "DATA": {"DATASET": dataset, "BATCH_SIZE": batch},
              "TRAIN": {"EPOCHS": epochs or len(accs), "STEPS": steps, "ACCUMULATION_STEPS": 1, "LR": lr}}
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        yaml.safe_dump(config, f)
    with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
        for i, acc in enumerate(accs, 1):
            f.write(json.dumps({"epoch": i, "step": i * steps_per_epoch, "lr": lr, "train_loss": 2.0 / i,
                                "train_acc": acc, "val_loss": 2.5 / i, "val_acc": acc, "epoch_time": 100.0 + i,
                                "images_per_sec": ips}) + "\n")
    if test is not None:
        with open(os.path.join(folder, "results.json"), "w") as f:
            json.dump({"best_val_acc": max(accs), "epochs": len(accs), "steps": len(accs) * steps_per_epoch,
                       "test_acc": test}, f)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("claims") / "runs")
    # an LR grid: lr01 has the higher val_acc, lr03 the higher test_acc; the choice is made on val
    make_run(root, "vitl16_c10_lr01", "vit_large_patch16_224", "augreg_in21k", "cifar10", [0.95, 0.9900],
             test=0.9870, lr=0.01)
    make_run(root, "vitl16_c10_lr03", "vit_large_patch16_224", "augreg_in21k", "cifar10", [0.97, 0.9820],
             test=0.9890, lr=0.03)
    make_run(root, "bit_c10", "resnetv2_152x4_bit", "goog_in21k", "cifar10", [0.96, 0.9800], ips=128.0, test=0.9770)
    make_run(root, "vitb16_in1k_pets", "vit_base_patch16_224", "sam_in1k", "oxford_pets", [0.90, 0.9400], test=0.9381)
    make_run(root, "vitb16_pets", "vit_base_patch16_224", "augreg_in21k", "oxford_pets", [0.90, 0.9500], test=0.9481)
    make_run(root, "hybrid_pets", "vit_base_r50_s16_224", "orig_in21k", "oxford_pets", [0.96, 0.9600], test=0.9581)
    make_run(root, "unfinished", "vit_large_patch16_224", "augreg_in21k", "cifar100", [0.5], epochs=10)
    # the case: a step-based fine-tune that stopped at step 6 of 500 with a high val_acc
    make_run(root, "vitb16_pets_step6", "vit_base_patch16_224", "augreg_in21k", "oxford_pets", [0.97, 0.999],
             steps=500, steps_per_epoch=3)
    # finished but never validated (TRAIN.VAL_FREQ beyond the run): listed, not counted
    make_run(root, "vitl16_c10_noval", "vit_large_patch16_224", "augreg_in21k", "cifar10", [None, None])
    # finished step-based run with no test labels: chosen on val, but its cell stays missing
    make_run(root, "vitb16_flowers_notest", "vit_base_patch16_224", "augreg_in21k", "flowers102", [0.99],
             steps=3, steps_per_epoch=3)
    return root


def test_model_and_pretraining_labels():
    cfg = lambda arch, name="timm": {"MODEL": {"NAME": name, "TIMM": {"ARCH": arch}}}
    assert claims.model_label(cfg("vit_base_patch16_224")) == "ViT-B/16"
    assert claims.model_label(cfg("vit_huge_patch14_224.orig_in21k")) == "ViT-H/14"
    assert claims.model_label(cfg("vit_large_r50_s32_224")) == "R50x1+ViT-L/32"
    assert claims.model_label(cfg("resnetv2_50x1_bit")) == "ResNet50x1"
    assert claims.model_label(cfg("", "vit_b16")) == "ViT-B/16"
    assert claims.model_label(cfg("", "hybrid_l16")) == "R50x1+ViT-L/16"
    assert claims.model_label(cfg("", "hybrid_r50_b16")) == "R50x1+ViT-B/16"
    assert claims.model_label(cfg("", "hybrid_r26_s32")) == "R26x1+ViT-S/32"
    assert claims.model_label(cfg("", "resnet18")) == "resnet18"
    vit = {"MODEL": {"NAME": "vit", "VIT": {"EMBED_DIM": 1024, "DEPTH": 24, "PATCH_SIZE": 16}}}
    assert claims.model_label(vit) == "ViT-L/16"
    assert claims.pretrain_label("augreg_in21k_ft_in1k") == "I21k"
    assert claims.pretrain_label("ms_in22k") == "I21k"
    assert claims.pretrain_label("sam_in1k") == "ImageNet"
    assert claims.pretrain_label("") == "scratch"


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory):
    """The tables of the fake runs, built once for the tests below: (tables, out folder)."""
    out = str(tmp_path_factory.mktemp("claims_out"))
    return claims.build_tables(runs, out), out


def test_claim_tables_cells_differences_and_missing(built):
    tables, out = built
    t1 = tables["claim1_vit_vs_cnn"]
    # paper cells are the published figures
    assert t1.loc["paper: ViT-L/16 (I21k)", "CIFAR-10"] == 99.15
    assert t1.loc["paper: ResNet152x4 (JFT)", "Pets"] == 96.62
    # ours: the grid's run with the best val_acc (lr01: 99.00 > 98.20), shown by its test_acc (98.70),
    # not the run with the best test_acc (lr03: 98.90)
    assert t1.loc["ours: ViT-L/16 (I21k)", "CIFAR-10"] == pytest.approx(98.70)
    assert t1.loc["ours: ResNet152x4 (I21k)", "CIFAR-10"] == pytest.approx(97.70)
    # differences
    diff = "ours: ViT-L/16 (I21k) − paper: ViT-L/16 (I21k)"
    assert t1.loc[diff, "CIFAR-10"] == pytest.approx(98.70 - 99.15)
    assert t1.loc["ours: ViT-L/16 (I21k) − ours: ResNet152x4 (I21k)", "CIFAR-10"] == pytest.approx(1.0)
    assert t1.loc["paper: ViT-L/16 (JFT) − paper: ResNet152x4 (JFT)", "ImageNet"] == pytest.approx(87.76 - 87.54)
    # missing stays missing (NaN, printed as —), never zero; the unfinished CIFAR-100 run does not count
    assert math.isnan(t1.loc["ours: ViT-L/16 (I21k)", "CIFAR-100"])
    assert math.isnan(t1.loc[diff, "ImageNet"])
    assert math.isnan(t1.loc["ours: ViT-H/14 (I21k)", "CIFAR-10"])
    md = open(os.path.join(out, "claim1_vit_vs_cnn.md")).read()
    row = next(line for line in md.splitlines() if line.startswith(f"| {diff} |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["—", "—", "-0.45", "—", "—", "—", "—"]
    assert "| ours: ViT-H/14 (I21k) | — | — | — | — | — | — | — |" in md
    # claim 2: ImageNet-1k vs ImageNet-21k pre-training, each against its own paper row
    t2 = tables["claim2_pretraining_size"]
    assert t2.loc["ours: ViT-B/16 (ImageNet)", "Pets"] == pytest.approx(93.81)
    assert t2.loc["ours: ViT-B/16 (ImageNet) − paper: ViT-B/16 (ImageNet)", "Pets"] == pytest.approx(0.0)
    assert t2.loc["ours: ViT-B/16 (I21k) − ours: ViT-B/16 (ImageNet)", "Pets"] == pytest.approx(1.0)
    assert "paper: ViT-H/14 (ImageNet)" not in t2.index  # an all-empty paper row is left out
    # claim 3: hybrid − ViT from our runs; paper rows keep their epochs
    t3 = tables["claim3_hybrids"]
    assert t3.loc["ours: R50x1+ViT-B/16 (I21k) − ours: ViT-B/16 (I21k)", "Pets"] == pytest.approx(1.0)
    assert t3.loc["paper: ViT-L/16 (JFT, 14 ep)", "ImageNet"] == 87.12
    for name in tables:
        assert os.path.getsize(os.path.join(out, f"{name}.png")) > 0
        assert os.path.isfile(os.path.join(out, f"{name}.md"))


def test_training_time_and_lr_grid_cost(built):
    tables, _ = built
    time = tables["training_time"]
    assert time.loc["bit_c10", "train time (s)"] == pytest.approx(101.0 + 102.0)
    assert time.loc["bit_c10", "step at 512 (s)"] == pytest.approx(512 / 128.0)
    assert time.loc["unfinished", "finished"] == "no"
    cost = tables["lr_grid_cost"]
    steps, grid = P.FINETUNE_GRID["cifar10"]["steps"], len(P.FINETUNE_GRID["cifar10"]["lrs"])
    assert cost.loc["bit_c10", "grid (h)"] == pytest.approx(steps * 512 / 128.0 * grid / 3600)
    assert cost.loc["vitb16_pets", "one LR (h)"] == pytest.approx(500 * 512 / 256.0 / 3600)
    assert "unfinished" not in cost.index


def test_empty_runs_folder_gives_all_missing_through_the_cli(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert research_main(["claims", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--metric", "best"]) == 0
    assert "wrote 6 tables" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "out" / "README.md")
    md = open(tmp_path / "out" / "claim1_vit_vs_cnn.md").read()
    for model in ("ViT-H/14", "ViT-L/16", "ResNet152x4"):
        assert f"| ours: {model} (I21k) | — | — | — | — | — | — | — |" in md
    table = claims.claim_table(claims.CLAIMS[0], {})
    assert table.loc[[r for r in table.index if r.startswith("ours")]].isna().all().all()
    assert "(no runs)" in open(tmp_path / "out" / "training_time.md").read()


def test_missing_runs_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        claims.load_runs(str(tmp_path / "does-not-exist"))


# ------------------------------------------------------------------------------------------- sweep
def test_sweep_dry_run_prints_the_grid(tmp_path, capsys, repo_root):
    cfg = str(repo_root / "configs/compare/swin_cifar10.yaml")
    code = research_main(["sweep", "--configs", cfg, "--lrs", "5e-4,1e-3", "--batch-sizes", "64",
                          "--aug", "on,off", "--output", str(tmp_path), "--dry-run"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 4
    assert "RUN_NAME swin_cifar10_lr0.0005_bs64_augon" in lines[0]
    assert "TRAIN.LR 0.0005" in lines[0] and "DATA.BATCH_SIZE 64" in lines[0]
    assert "AUG.HFLIP" not in lines[0] and "AUG.HFLIP 0.0" in lines[1]
    assert not os.listdir(tmp_path)


def test_sweep_bad_values_name_them(repo_root):
    with pytest.raises(ValueError, match="'sometimes'"):
        compare.sweep_commands([str(repo_root / "configs/compare/swin_cifar10.yaml")], [1e-3], [2], ["sometimes"], "o")
    with pytest.raises(ValueError, match="--lrs"):
        compare._split("fast", float, "--lrs")


FAKE_MAIN = '''
import json, os, sys
args = sys.argv[1:]
opts = dict(zip(args[args.index("--opts") + 1::2], args[args.index("--opts") + 2::2]))
folder = os.path.join(opts["OUTPUT"], opts["RUN_NAME"])
os.makedirs(folder, exist_ok=True)
lr = float(opts["TRAIN.LR"])
sys.path.insert(0, os.getcwd())  # the sweep runs it from the repository root, as main.py
from config import load_config
cfg = load_config(args[args.index("--cfg") + 1], args[args.index("--opts") + 1:])
open(os.path.join(folder, "config.yaml"), "w").write(cfg.dump())
with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for e in range(1, cfg.TRAIN.EPOCHS + 1):
        f.write(json.dumps(dict(epoch=e, lr=lr, train_loss=1/e, train_acc=lr*100*e, val_loss=1/e, val_acc=lr*90*e,
                                epoch_time=1.0, images_per_sec=10.0)) + "\\n")
sys.exit(3 if lr > 0.002 else 0)
'''


def test_sweep_runs_main_per_point_and_draws_curves(tmp_path, repo_root, capsys):
    main = tmp_path / "fake_main.py"
    main.write_text(FAKE_MAIN)
    out = tmp_path / "runs"
    cfg = str(repo_root / "configs/compare/swin_cifar10.yaml")
    code = research_main(["sweep", "--configs", cfg, "--lrs", "1e-3,3e-3", "--batch-sizes", "8",
                          "--aug", "off", "--output", str(out), "--main", str(main)])
    text = capsys.readouterr().out
    assert code == 1 and "failed: swin_cifar10_lr0.003_bs8_augoff" in text  # a failed run is reported
    assert sorted(os.listdir(out)) == ["curves", "swin_cifar10_lr0.001_bs8_augoff", "swin_cifar10_lr0.003_bs8_augoff"]
    assert os.path.getsize(out / "curves" / "curves_cifar10.png") > 0
    summary = (out / "curves" / "summary.md").read_text()
    assert "| swin_cifar10_lr0.001_bs8_augoff | cifar10 |" in summary
    # a second sweep skips the finished runs
    code = research_main(["sweep", "--configs", cfg, "--lrs", "1e-3", "--batch-sizes", "8", "--aug", "off",
                          "--output", str(out), "--main", str(main)])
    assert code == 0 and "finished already, skipped" in capsys.readouterr().out
    # ... but not a finished run whose config differs from the sweep's (here a longer run)
    code = research_main(["sweep", "--configs", cfg, "--lrs", "1e-3", "--batch-sizes", "8", "--aug", "off",
                          "--output", str(out), "--main", str(main), "--opts", "TRAIN.EPOCHS", "5"])
    text = capsys.readouterr().out
    assert code == 0 and "skipped" not in text and "finished with another config (TRAIN.EPOCHS" in text


@pytest.mark.parametrize("opts, says", [
    (["RUN_NAME", "x"], "--opts sets RUN_NAME"), (["TRAIN.LR", "0.1"], "--lrs"), (["OUTPUT", "o"], "--output"),
    (["AUG.HFLIP", "0.5"], "--aug off"), (["DATA.IMG_SIZ", "3"], "Unknown config key 'DATA.IMG_SIZ'"),
])
def test_sweep_refuses_opts_that_would_collapse_the_grid_or_fail_every_run(repo_root, opts, says):
    """Later --opts win in main.py: RUN_NAME, TRAIN.LR, ... there would make every point the same run."""
    with pytest.raises(ValueError, match=re.escape(says)):
        compare.sweep_commands([str(repo_root / "configs/compare/swin_cifar10.yaml")], [1e-3], [2], ["off"], "o", opts)


def test_curves_one_figure_per_dataset(runs, tmp_path):
    paths = compare.draw_curves(runs, str(tmp_path / "c"))
    assert sorted(os.path.basename(p) for p in paths) == [
        "curves_cifar10.png", "curves_cifar100.png", "curves_flowers102.png", "curves_oxford_pets.png"]


def test_handouts_name_files_that_exist(repo_root):
    import re

    for name in ("model_zoo_homework.md", "vit_homework.md"):
        text = (repo_root / "handouts" / name).read_text()
        assert "python -m autograder check" in text and "## What to hand in" in text and "graded" in text
        for path in re.findall(r"(configs/[\w/.-]+\.yaml|handouts/[\w.-]+\.ipynb)", text):
            assert (repo_root / path).is_file(), f"{name} names {path}, which does not exist"


def test_aug_off_overrides_are_valid_config_keys(repo_root):
    from config import load_config

    cfg = load_config(str(repo_root / "configs/compare/swin_cifar10.yaml"), list(compare.AUG_OFF))
    assert cfg.AUG.HFLIP == 0.0 and cfg.AUG.RANDOM_CROP_PADDING == 0 and cfg.AUG.RAND_AUGMENT == ""


# ------------------------------------------------------------------ finished runs only (issue 15, item 10)
def test_step_run_stopped_at_step_6_of_500_is_listed_as_unfinished_not_counted(built, runs):
    tables, out = built
    run = next(r for r in claims.load_runs(runs) if r.name == "vitb16_pets_step6")
    assert run.progress() == (6, 500, "steps") and not run.finished
    t2 = tables["claim2_pretraining_size"]
    # the cell is the finished vitb16_pets run's test accuracy, not the stopped run's 99.90 val_acc
    assert t2.loc["ours: ViT-B/16 (I21k)", "Pets"] == pytest.approx(94.81)
    assert t2.loc["ours: ViT-B/16 (I21k) − paper: ViT-B/16 (I21k)", "Pets"] == pytest.approx(94.81 - 94.43)
    md = open(os.path.join(out, "claim2_pretraining_size.md")).read()
    assert "+5.47" not in md and "99.90" not in md
    unfinished = next(line for line in md.splitlines() if line.startswith("Unfinished, not counted: "))
    assert "vitb16_pets_step6 (ViT-B/16 (I21k), oxford_pets: 6/500 steps)" in unfinished
    status = tables["runs"].loc["vitb16_pets_step6", "status"]
    assert status == "unfinished (6/500 steps): not counted"
    assert tables["runs"].loc["vitb16_pets_step6", "progress"] == "6/500 steps"
    assert tables["training_time"].loc["vitb16_pets_step6", "finished"] == "no"


def test_a_lone_unfinished_run_leaves_its_cell_missing(tmp_path):
    make_run(str(tmp_path), "vitb16_pets_lr0.003", "vit_base_patch16_224", "augreg_in21k", "oxford_pets",
             [0.97, 0.999], steps=500)
    tables = claims.build_tables(str(tmp_path), str(tmp_path / "out"))
    t2 = tables["claim2_pretraining_size"]
    assert math.isnan(t2.loc["ours: ViT-B/16 (I21k)", "Pets"])
    assert math.isnan(t2.loc["ours: ViT-B/16 (I21k) − paper: ViT-B/16 (I21k)", "Pets"])
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "1 run found" in readme and "0 finished" in readme and "+5.47" not in readme


@pytest.mark.parametrize("records, config, results, expected", [
    # epoch-based: the last epoch reached, not the number of lines (a resumed run may repeat one)
    ([{"epoch": 1}, {"epoch": 2}, {"epoch": 2}], {"EPOCHS": 3, "STEPS": 0}, {}, (2, 3, "epochs", False)),
    ([{"epoch": 1}, {"epoch": 2}, {"epoch": 3}], {"EPOCHS": 3, "STEPS": 0}, {}, (3, 3, "epochs", True)),
    # step-based: the step counter, from metrics.jsonl or results.json
    ([{"epoch": 1, "step": 250}, {"epoch": 2, "step": 500}], {"EPOCHS": 10, "STEPS": 500}, {}, (500, 500, "steps", True)),
    ([{"epoch": 1, "step": 6}], {"EPOCHS": 10, "STEPS": 500}, {}, (6, 500, "steps", False)),
    ([{"epoch": 1}], {"EPOCHS": 10, "STEPS": 500}, {"steps": 500}, (500, 500, "steps", True)),
    # nothing says how far it got, or what it was asked for: not counted
    ([{"epoch": 1}], {"EPOCHS": 10, "STEPS": 500}, {}, (None, 500, "steps", False)),
    ([{"epoch": 4}], {"STEPS": 0}, {}, (4, None, "epochs", False)),
    ([], {"EPOCHS": 1, "STEPS": 0}, {}, (None, 1, "epochs", False)),
])
def test_progress_compares_what_was_done_with_the_configured_total(records, config, results, expected):
    run = claims.Run("r", {"TRAIN": config}, records, results)
    assert (*run.progress(), run.finished) == expected


# ------------------------------------------------------- choose on val, report test (issue 15, item 11)
def test_cells_are_chosen_on_val_and_report_test(runs):
    cells = claims.ours_cells(claims.load_runs(runs))
    cell = cells[("ViT-L/16", "I21k", "cifar10")]
    assert cell.run == "vitl16_c10_lr01" and cell.val == pytest.approx(99.0) and cell.test == pytest.approx(98.7)
    assert cell.candidates == ("vitl16_c10_lr01", "vitl16_c10_lr03")
    # a finished run without test labels: chosen on val, but its cell is left missing, and runs.md says why
    flowers = cells[("ViT-B/16", "I21k", "flowers102")]
    assert flowers.run == "vitb16_flowers_notest" and flowers.test is None
    assert "vitb16_pets_step6" not in {c.run for c in cells.values()}


def test_best_metric_changes_only_the_choice(tmp_path):
    root = str(tmp_path)
    # lr1 peaks higher (0.99 at epoch 1) but ends lower (0.90) than lr2 (0.95 at the end)
    make_run(root, "lr1", "vit_base_patch16_224", "augreg_in21k", "cifar10", [0.99, 0.90], test=0.91)
    make_run(root, "lr2", "vit_base_patch16_224", "augreg_in21k", "cifar10", [0.94, 0.95], test=0.93)
    runs = claims.load_runs(root)
    key = ("ViT-B/16", "I21k", "cifar10")
    assert claims.ours_cells(runs, "last")[key][:3] == (pytest.approx(93.0), pytest.approx(95.0), "lr2")
    assert claims.ours_cells(runs, "best")[key][:3] == (pytest.approx(91.0), pytest.approx(99.0), "lr1")
    with pytest.raises(ValueError, match="'median'"):
        claims.ours_cells(runs, "median")


def test_every_table_says_how_ours_was_chosen(built):
    tables, out = built
    for name in [c.key for c in claims.CLAIMS] + ["runs"]:
        md = open(os.path.join(out, f"{name}.md")).read()
        note = md.split("\n\n", 2)[2]  # under the table
        assert "test accuracy (%) of the run chosen on the validation split" in note, name
        assert "Only finished runs count." in note, name
    claim1 = open(os.path.join(out, "claim1_vit_vs_cnn.md")).read()
    assert "ViT-L/16 (I21k), CIFAR-10: vitl16_c10_lr01 (val 99.00, test 98.70, chosen from 2 finished runs)" in claim1
    status = tables["runs"]["status"]
    assert status["vitl16_c10_lr03"] == "not chosen for ViT-L/16 (I21k), CIFAR-10: lower val acc than vitl16_c10_lr01"
    assert status["vitb16_flowers_notest"].endswith("has no test_acc (results.json): cell left missing")
    assert status["vitl16_c10_noval"] == "never validated: not counted"
    assert tables["runs"].loc["vitl16_c10_lr03", "LR"] == "0.03"
    assert tables["runs"].loc["vitl16_c10_lr03", "test acc"] == pytest.approx(98.9)
